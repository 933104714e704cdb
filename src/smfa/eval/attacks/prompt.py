"""Prompt attacks: the forget question wrapped in a template of one family (shipped as data in
``smfa/resources/attacks/prompts.json``; the paper's jailbreak style is the ``jailbreak``
family). Default suite: one seeded template per question; full suite: every template, and
the attacker keeps the best answer per question."""

from __future__ import annotations

from smfa.eval.attacks.base import Attack, Attacked, Target, row_rng
from smfa.prompts import attack_templates
from smfa.registry import ATTACKS

FAMILIES = (
    "prefix_injection",
    "refusal_suppression",
    "role_play",
    "instruction_override",
    "jailbreak",
)


def wrap(template: str, question: str) -> str:
    """The template with ``{question}`` replaced (plain replace: questions may hold braces)."""
    return template.replace("{question}", question)


class PromptAttack(Attack):
    family = ""

    def apply(self, t: Target) -> Attacked:
        templates = attack_templates()[self.family]
        rows, questions, images = [], [], []
        for r, im in zip(t.rows, t.images):
            chosen = templates if t.full else [row_rng(t.seed, self.family, r).choice(templates)]
            for tpl in chosen:
                rows.append(r)
                questions.append(wrap(tpl, r["question"]))
                images.append(im)
        return Attacked(rows, questions, images, best_of=t.full)


def _register(family: str) -> None:
    cls = type(
        f"Prompt_{family}",
        (PromptAttack,),
        {"family": family, "title": f"Prompt: {family.replace('_', ' ')}"},
    )
    ATTACKS.add(f"prompt_{family}", cls)


for _family in FAMILIES:
    _register(_family)
