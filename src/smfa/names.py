"""Weight names shared by adapters, masks and the report (pure string functions, no torch).

A *base key* names a weight of the plain model (``model.layers.0.self_attn.q_proj.weight``);
peft stores its LoRA factors as ``base_model.model.<module>.lora_A.weight`` / ``lora_B.weight``.
"""

from __future__ import annotations

PEFT_PREFIX = "base_model.model."
LORA_SUFFIXES = (".lora_A.weight", ".lora_B.weight")


def base_key(peft_key: str) -> str:
    """``base_model.model.X.lora_A.weight`` → ``X.weight``."""
    body = peft_key[len(PEFT_PREFIX) :] if peft_key.startswith(PEFT_PREFIX) else peft_key
    for part in LORA_SUFFIXES:
        if body.endswith(part):
            return body[: -len(part)] + ".weight"
    return body


def module_type(key: str) -> str:
    """``model.layers.0.self_attn.q_proj.weight`` → ``q_proj``.

    A suffix after ``@`` (e.g. ``...q_proj.weight@view0`` for per-view stats) is ignored.
    """
    parts = key.split("@", 1)[0].split(".")
    return parts[-2] if len(parts) >= 2 and parts[-1] == "weight" else parts[-1]
