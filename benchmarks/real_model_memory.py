"""Memory per stage of the 7B-class models, from their configs' shapes (smfa.memory).

The shapes below are those of the public ``config.json`` of each model (fields that set a
parameter count or an activation width; nothing is downloaded): the model is built on the meta
device and every count is read off it. Settings per stage come from the shipped configs
(``configs/train/<name>.yaml``: LoRA rank and batch size of the original model;
``configs/unlearn/<name>.yaml``: the paper's rank 16 and batch size 2) and the eval batch
below. Sequence length = image tokens of one bench portrait rendered at 448 px (what each
family's processor makes of it, noted per model) + TEXT_TOKENS of question and answer.
Writes docs/results/real_models.json (rendered into docs/real-models.md).

Usage: ``python benchmarks/real_model_memory.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _summary import save  # noqa: E402

from smfa.memory import GiB, delta_bytes, eval_memory, shapes, train_memory  # noqa: E402

TEXT_TOKENS = 64  # chat template + question + answer of one bench sample
ANSWER_TOKENS = 32  # answer window of the loss
EVAL_BATCH, NEW_TOKENS = 16, 32
SIGLIP = {
    "model_type": "siglip_vision_model",
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "patch_size": 14,
}
# name: (hub id, image tokens of a 448-px image and why, config fields)
MODELS = {
    "llava-1.5-7b": (
        "llava-hf/llava-1.5-7b-hf",
        576,
        "resized to 336 px: (336/14)^2",
        {
            "model_type": "llava",
            "vision_config": {
                "model_type": "clip_vision_model",
                "hidden_size": 1024,
                "intermediate_size": 4096,
                "num_hidden_layers": 24,
                "num_attention_heads": 16,
                "image_size": 336,
                "patch_size": 14,
                "projection_dim": 768,
            },
            "text_config": {
                "model_type": "llama",
                "vocab_size": 32064,
                "hidden_size": 4096,
                "intermediate_size": 11008,
                "num_hidden_layers": 32,
                "num_attention_heads": 32,
                "num_key_value_heads": 32,
            },
            "vision_feature_layer": -2,
        },
    ),
    "llava-onevision-7b": (
        "llava-hf/llava-onevision-qwen2-7b-ov-hf",
        3699,
        "anyres: base 27^2 + 2x2 tiles (54^2 + 54 newlines)",
        {
            "model_type": "llava_onevision",
            "vision_config": {
                **SIGLIP,
                "num_hidden_layers": 26,
                "image_size": 384,
                "vision_use_head": False,
            },
            "text_config": {
                "model_type": "qwen2",
                "vocab_size": 152128,
                "hidden_size": 3584,
                "intermediate_size": 18944,
                "num_hidden_layers": 28,
                "num_attention_heads": 28,
                "num_key_value_heads": 4,
            },
        },
    ),
    "qwen2.5-vl-7b": (
        "Qwen/Qwen2.5-VL-7B-Instruct",
        256,
        "448 px / 14 = 32^2 patches, merged 2x2",
        {
            "model_type": "qwen2_5_vl",
            "vision_config": {
                "depth": 32,
                "hidden_size": 1280,
                "intermediate_size": 3420,
                "num_heads": 16,
                "out_hidden_size": 3584,
                "patch_size": 14,
                "spatial_merge_size": 2,
                "temporal_patch_size": 2,
                "window_size": 112,
                "fullatt_block_indexes": [7, 15, 23, 31],
            },
            "text_config": {
                "vocab_size": 152064,
                "hidden_size": 3584,
                "intermediate_size": 18944,
                "num_hidden_layers": 28,
                "num_attention_heads": 28,
                "num_key_value_heads": 4,
                "rope_parameters": {
                    "rope_type": "default",
                    "rope_theta": 1000000.0,
                    "mrope_section": [16, 24, 24],
                },
            },
        },
    ),
    "idefics3-8b": (
        "HuggingFaceM4/Idefics3-8B-Llama3",
        2873,
        "upscaled to 1456 px, 4x4 tiles + global, 169 each",
        {
            "model_type": "idefics3",
            "vision_config": {**SIGLIP, "image_size": 364},
            "text_config": {
                "model_type": "llama",
                "vocab_size": 128259,
                "hidden_size": 4096,
                "intermediate_size": 14336,
                "num_hidden_layers": 32,
                "num_attention_heads": 32,
                "num_key_value_heads": 8,
            },
            "scale_factor": 2,
        },
    ),
    "smolvlm": (
        "HuggingFaceTB/SmolVLM-Instruct",
        1377,
        "upscaled to 1536 px, 4x4 tiles + global, 81 each",
        {
            "model_type": "idefics3",
            "vision_config": {**SIGLIP, "image_size": 384},
            "text_config": {
                "model_type": "llama",
                "vocab_size": 49155,
                "hidden_size": 2048,
                "intermediate_size": 8192,
                "num_hidden_layers": 24,
                "num_attention_heads": 32,
                "num_key_value_heads": 32,
            },
            "scale_factor": 3,
        },
    ),
    "gemma-3-4b": (
        "google/gemma-3-4b-it",
        256,
        "896 px, pooled to 256",
        {
            "model_type": "gemma3",
            "vision_config": {**SIGLIP, "image_size": 896, "vision_use_head": False},
            "text_config": {
                "vocab_size": 262208,
                "hidden_size": 2560,
                "intermediate_size": 10240,
                "num_hidden_layers": 34,
                "num_attention_heads": 8,
                "num_key_value_heads": 4,
                "head_dim": 256,
            },
            "mm_tokens_per_image": 256,
        },
    ),
    "gemma-3-12b": (
        "google/gemma-3-12b-it",
        256,
        "896 px, pooled to 256",
        {
            "model_type": "gemma3",
            "vision_config": {**SIGLIP, "image_size": 896, "vision_use_head": False},
            "text_config": {
                "vocab_size": 262208,
                "hidden_size": 3840,
                "intermediate_size": 15360,
                "num_hidden_layers": 48,
                "num_attention_heads": 16,
                "num_key_value_heads": 8,
                "head_dim": 256,
            },
            "mm_tokens_per_image": 256,
        },
    ),
}


def gib(n: int) -> float:
    return round(n / GiB, 1)


def settings(kind: str, name: str) -> tuple[int, int]:
    """(LoRA rank, batch size) of a shipped config."""
    t = yaml.safe_load((ROOT / "configs" / kind / f"{name}.yaml").read_text())["train"]
    return t["lora"]["r"], t["batch_size"]


def main() -> None:
    shape_rows, stage_rows, values = [], [], {}
    for name, (hub, image_tokens, why, config) in MODELS.items():
        s = shapes(config)
        seq = image_tokens + TEXT_TOKENS
        r_train, b_train = settings("train", name)
        r_un, b_un = settings("unlearn", name)
        train = train_memory(s, r_train, b_train, seq, ANSWER_TOKENS)
        unlearn = train_memory(s, r_un, b_un, seq, ANSWER_TOKENS)
        ev = eval_memory(s, EVAL_BATCH, seq, NEW_TOKENS)
        shape_rows.append(
            [
                name,
                hub,
                round(s.params / 1e9, 2),
                f"{s.layers} x {s.hidden}",
                s.targets,
                round(r_un * s.lora_in_out / 1e6, 1),
                f"{image_tokens} ({why})",
            ]
        )
        stage_rows.append(
            [
                name,
                gib(train["weights"]),
                f"r {r_train}, batch {b_train}",
                gib(train["lora_state"]),
                gib(train["activations"] + train["logits"]),
                gib(train["total"]),
                f"batch {b_un}",
                gib(unlearn["activations"] + unlearn["logits"]),
                gib(unlearn["total"]),
                gib(ev["total"]),
                gib(delta_bytes(s)),
            ]
        )
        values[f"{name}.params_b"] = s.params / 1e9
        values[f"{name}.train_gib"] = train["total"] / GiB
    save(
        "real_models",
        "Memory per stage of the 7B-class models (estimate from the configs' shapes)",
        tables={
            "shapes": {
                "caption": "Shapes (built on the meta device from each config).",
                "headers": [
                    "model",
                    "checkpoint",
                    "params (B)",
                    "decoder",
                    "LoRA modules",
                    "LoRA r 16 (M params)",
                    "image tokens per 448-px image",
                ],
                "rows": shape_rows,
            },
            "stages": {
                "caption": (
                    "GiB per stage, bfloat16 weights, float32 adapters; original = smfa "
                    f"train, unlearn = one MFA / RA adapter, eval batch {EVAL_BATCH}. "
                    "delta = delta.safetensors (host memory and disk)."
                ),
                "headers": [
                    "model",
                    "weights",
                    "original: LoRA",
                    "LoRA + AdamW",
                    "original: activations",
                    "original total",
                    "unlearn",
                    "unlearn: activations",
                    "unlearn total",
                    "eval total",
                    "delta",
                ],
                "rows": stage_rows,
            },
        },
        values=values,
        notes=[
            f"sequence = image tokens + {TEXT_TOKENS} text tokens; loss over "
            f"{ANSWER_TOKENS} answer tokens; eval greedy, {NEW_TOKENS} new tokens",
            "add ~10-15 % for the CUDA context, allocator and temporaries",
        ],
    )


if __name__ == "__main__":
    main()
