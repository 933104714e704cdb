"""Fixed prompt texts that must be in the tiny model's vocabulary (the attack templates).

The prompt attacks of the robustness suite (SPEC §6) wrap forget questions in templates shipped
as data, ``smfa/resources/attacks/prompts.json`` (``{family: [template, ...]}``, ``{question}``
marks where the question goes). Reading them here lets the tiny tokenizer cover their words
(:func:`smfa.stages.train_original.corpus_texts`) without importing the attack code.
"""

from __future__ import annotations

import functools
import json
from importlib import resources


@functools.cache
def attack_templates() -> dict[str, tuple[str, ...]]:
    """``{family: templates}`` of the prompt attacks (keys starting with ``_`` are comments)."""
    text = resources.files("smfa").joinpath("resources/attacks/prompts.json").read_text("utf-8")
    data = json.loads(text)
    return {k: tuple(v) for k, v in data.items() if not k.startswith("_")}


def template_texts() -> tuple[str, ...]:
    """Every template with the ``{question}`` slot removed (text for the tokenizer corpus)."""
    return tuple(
        t.replace("{question}", " ").strip() for ts in attack_templates().values() for t in ts
    )


ATTACK_TEXTS = template_texts()
