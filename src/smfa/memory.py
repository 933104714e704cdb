"""Memory per stage of a real model, computed from its config's shapes (no weights needed).

:func:`shapes` builds the model on PyTorch's ``meta`` device (no memory, no download) from a
Hugging Face config and reads every count off it: all parameters, the language model's widths,
and the LoRA target modules that ``smfa.train`` would wrap. :func:`stage_memory` turns those
counts into bytes per stage with the formulas below (pure arithmetic, tested on hand-computed
numbers). They are estimates of what is alive at the peak of each stage, for planning a GPU:
the CUDA context, allocator fragmentation and temporary buffers come on top (leave ~10-15 %).

Per training step with LoRA (the base frozen, in ``dtype`` of ``b`` bytes per element):

- weights ``P · b``;
- LoRA adapters, their gradients and AdamW's two moments, all float32 (peft keeps adapters in
  float32 on a bfloat16 base): ``16 · n_lora`` bytes, ``n_lora = Σ r · (in + out)`` over the
  target modules;
- activations kept for backward, per token and decoder layer ``6h + 2·kv + 4i + 7r``
  elements of ``b`` bytes (the block input and its norm, q/k/v after RoPE, the attention
  output, the second residual and its norm, gate, up, SiLU(gate) and gate·up, and the seven
  LoRA-A outputs), for ``tokens = batch · seq`` tokens; the frozen vision tower keeps none
  (nothing under it needs a gradient);
- logits of the answer window only (``smfa.models.forward``): ``batch · answer · V`` elements
  in ``b`` bytes plus their float32 copy and its gradient for the loss: ``(b + 8)`` bytes each.

Evaluation (``smfa eval``, greedy generation): weights plus the KV cache
``2 · layers · kv · batch · (seq + new_tokens) · b``. Sculpting and merging run per layer, but
``delta.safetensors`` holds the dense float32 ΔW of every target module: ``4 · Σ in · out``
bytes, in host memory and on disk.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

GiB = 2**30
LORA_STATE_BYTES = 16  # float32 adapter + gradient + two AdamW moments
LOGIT_EXTRA_BYTES = 8  # float32 copy of the logits + its gradient


@dataclass(frozen=True)
class Shapes:
    """Counts of one model, read from its config (:func:`shapes`).

    Attributes:
        params: every parameter (vision tower, projector, language model, LM head).
        hidden: decoder width ``h``.
        intermediate: decoder MLP width ``i``.
        layers: decoder layers.
        kv: key/value width ``num_key_value_heads · head_dim``.
        vocab: vocabulary size ``V``.
        lora_in_out: ``Σ (in + out)`` over the LoRA target modules (times ``r``: LoRA size).
        target_numel: ``Σ in · out`` over the target modules (entries of the dense ΔW).
        targets: number of target modules.
    """

    params: int
    hidden: int
    intermediate: int
    layers: int
    kv: int
    vocab: int
    lora_in_out: int
    target_numel: int
    targets: int


def shapes(config, target: str = "language") -> Shapes:
    """:class:`Shapes` of a Hugging Face image-text-to-text config (a ``PretrainedConfig``, a
    ``config.json`` dict or its path). ``target`` is ``LoraSettings.target`` ("language" or a
    regex of module names). The model is built on the meta device: nothing is allocated."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText, PretrainedConfig

    from smfa.train import lora_target_regex

    if not isinstance(config, PretrainedConfig):
        if not isinstance(config, dict):
            config = AutoConfig.from_pretrained(config)
        else:
            data = dict(config)
            config = AutoConfig.for_model(data.pop("model_type"), **data)
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config)
    pattern = re.compile(lora_target_regex(target))
    in_out = numel = count = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and pattern.fullmatch(name):
            in_out += module.in_features + module.out_features
            numel += module.in_features * module.out_features
            count += 1
    text = config.get_text_config()
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    return Shapes(
        params=sum(p.numel() for p in model.parameters()),
        hidden=text.hidden_size,
        intermediate=text.intermediate_size,
        layers=text.num_hidden_layers,
        kv=kv_heads * head_dim,
        vocab=text.vocab_size,
        lora_in_out=in_out,
        target_numel=numel,
        targets=count,
    )


def activation_elements(s: Shapes, r: int) -> int:
    """Elements kept for backward per token and decoder layer: ``6h + 2·kv + 4i + 7r``."""
    return 6 * s.hidden + 2 * s.kv + 4 * s.intermediate + 7 * r


def train_memory(
    s: Shapes, r: int, batch: int, seq: int, answer: int, dtype_bytes: int = 2
) -> dict[str, int]:
    """Bytes alive at the peak of one LoRA training step (see the module doc).

    Args:
        s: the model's counts.
        r: LoRA rank.
        batch: samples per step (per GPU).
        seq: tokens per sample, image tokens included (the longest in the batch).
        answer: tokens of the answer window (logits are computed there only).
        dtype_bytes: bytes per element of the base weights (2: bfloat16).
    """
    out = {
        "weights": s.params * dtype_bytes,
        "lora_state": LORA_STATE_BYTES * r * s.lora_in_out,
        "activations": batch * seq * s.layers * activation_elements(s, r) * dtype_bytes,
        "logits": batch * answer * s.vocab * (dtype_bytes + LOGIT_EXTRA_BYTES),
    }
    out["total"] = sum(out.values())
    return out


def eval_memory(
    s: Shapes, batch: int, seq: int, new_tokens: int, dtype_bytes: int = 2
) -> dict[str, int]:
    """Bytes of greedy generation: weights + KV cache (+ the last position's logits, float32)."""
    out = {
        "weights": s.params * dtype_bytes,
        "kv_cache": 2 * s.layers * s.kv * batch * (seq + new_tokens) * dtype_bytes,
        "logits": batch * s.vocab * 4,
    }
    out["total"] = sum(out.values())
    return out


def delta_bytes(s: Shapes) -> int:
    """Bytes of ``delta.safetensors``: the dense float32 ΔW of every target module."""
    return 4 * s.target_numel


def as_dict(s: Shapes) -> dict:
    return dataclasses.asdict(s)
