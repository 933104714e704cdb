"""The other view: each forget fact asked through the other view of the same profile (an image
memory question as its text memory twin naming the person, and the reverse). The attacker
keeps the better of the two views per fact, so recovery > 0 means a fact forgotten in one view
survives in the other."""

from __future__ import annotations

from smfa.eval.attacks.base import Attack, Attacked, Target
from smfa.registry import ATTACKS

OTHER = {"image_memory": "text_memory", "text_memory": "image_memory"}


def twin_index(table: list[dict]) -> dict[tuple, dict]:
    """``(subject_id, qtype, attribute) -> row`` of a question table."""
    return {(r["subject_id"], r["qtype"], r["attribute"]): r for r in table}


@ATTACKS.register("other_view")
class OtherView(Attack):
    title = "Other view (text ↔ image)"

    def apply(self, t: Target) -> Attacked:
        split = t.options.get("forget", "forget10")
        twins = twin_index(t.bench.split(split))
        rows, questions, images = [], [], []
        for r in t.rows:
            twin = twins.get((r["subject_id"], OTHER.get(r["qtype"], ""), r["attribute"]))
            if twin is None:
                continue
            rows.append(r)
            questions.append(twin["question"])
            path = t.bench.image_path(twin)
            images.append(t.bench.open_image(twin) if path is not None else None)
        return Attacked(rows, questions, images, best_of=True)
