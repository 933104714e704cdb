"""Memory per stage from a config's shapes (smfa.memory), on hand-computed numbers."""

from __future__ import annotations

import pytest
import torch

from smfa.memory import (
    Shapes,
    activation_elements,
    delta_bytes,
    eval_memory,
    shapes,
    train_memory,
)

# A tiny LLaVA-1.5-shaped config: CLIP 32 px / patch 8, width 32, 3 layers; Llama vocab 100,
# width 64, MLP 128, 2 layers, 4 heads of 16, 2 key/value heads (kv = 32).
CONFIG = {
    "model_type": "llava",
    "vision_config": {
        "model_type": "clip_vision_model",
        "image_size": 32,
        "patch_size": 8,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "projection_dim": 32,
    },
    "text_config": {
        "model_type": "llama",
        "vocab_size": 100,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "vision_feature_layer": -2,
}

# By hand. Language model: embeddings 100·64 = 6400; per layer q 64·64 = 4096, k = v = 64·32
# = 2048, o 4096, gate = up = down = 64·128 = 8192, two norms 128 -> 36 992; x2 = 73 984;
# final norm 64; LM head 6400 -> 86 848. CLIP: class embedding 32, patches 3·8·8·32 = 6144,
# positions 17·32 = 544, pre-norm 64; per layer q/k/v/o 4·(32·32 + 32) = 4224, fc1 32·64 + 64 =
# 2112, fc2 64·32 + 32 = 2080, norms 128 -> 8544; x3 = 25 632; post-norm 64 -> 32 480.
# Projector 32·64 + 64 + 64·64 + 64 = 6272. Total 125 600.
# LoRA targets per layer (in + out): q 128, k 96, v 96, o 128, gate/up/down 192 -> 1024; x2.
HAND = Shapes(
    params=125_600,
    hidden=64,
    intermediate=128,
    layers=2,
    kv=32,
    vocab=100,
    lora_in_out=2048,
    target_numel=2 * (4096 + 2048 + 2048 + 4096 + 3 * 8192),
    targets=14,
)


def test_shapes_from_a_config_on_the_meta_device():
    assert shapes(CONFIG) == HAND


def test_activation_elements_hand_computed():
    # 6·64 + 2·32 + 4·128 + 7·4 = 384 + 64 + 512 + 28
    assert activation_elements(HAND, r=4) == 988


def test_train_memory_hand_computed():
    m = train_memory(HAND, r=4, batch=2, seq=10, answer=3, dtype_bytes=2)
    assert m == {
        "weights": 125_600 * 2,
        "lora_state": 16 * 4 * 2048,  # 131 072
        "activations": 2 * 10 * 2 * 988 * 2,  # 79 040
        "logits": 2 * 3 * 100 * (2 + 8),  # 6000
        "total": 251_200 + 131_072 + 79_040 + 6000,
    }


def test_eval_memory_and_delta_hand_computed():
    m = eval_memory(HAND, batch=2, seq=10, new_tokens=5, dtype_bytes=2)
    assert m == {"weights": 251_200, "kv_cache": 7680, "logits": 800, "total": 259_680}
    assert delta_bytes(HAND) == 4 * 73_728


def test_counts_match_a_real_model_and_peft(tmp_path):
    """The meta-device counts are those of the model itself, and the LoRA adapter that
    smfa.train adds to a bfloat16 model is float32 with r · Σ(in + out) parameters (the
    16 bytes per LoRA parameter of train_memory)."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    from smfa.config import LoraSettings
    from smfa.train import add_lora

    data = dict(CONFIG)
    config = AutoConfig.for_model(data.pop("model_type"), **data)
    model = AutoModelForImageTextToText.from_config(config).to(torch.bfloat16)
    assert sum(p.numel() for p in model.parameters()) == HAND.params
    peft_model = add_lora(model, LoraSettings(r=4, alpha=8, dropout=0.0), seed=0)
    lora = [p for n, p in peft_model.named_parameters() if p.requires_grad]
    assert sum(p.numel() for p in lora) == 4 * HAND.lora_in_out
    assert {p.dtype for p in lora} == {torch.float32}


@pytest.mark.parametrize("bad", [{"model_type": "llama", "vocab_size": 10}])
def test_text_only_config_is_refused(bad):
    with pytest.raises(ValueError):
        shapes(bad)
