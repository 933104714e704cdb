"""Question rows (the table schema of docs/architecture.md) for profiles and scenes."""

from __future__ import annotations

import random

from smfa.bench import templates, vocab
from smfa.bench.profiles import PRIVATE, VISIBLE
from smfa.bench.templates import Template, article

N_WRONG = 3  # perturbed answers per question = wrong multiple-choice options

#: Columns of every question table, in the order of the dataset card.
COLUMNS = {
    "id": "string",
    "subject_id": "string",
    "domain": "string",
    "qtype": "string",
    "attribute": "string",
    "image": "string",
    "question": "string",
    "phrasings": ["string"],
    "paraphrases": ["string"],
    "answer": "string",
    "keys": ["string"],
    "perturbed": ["string"],
    "options": ["string"],
    "answer_index": "int64",
}
QTYPES = ("image_memory", "text_memory", "understanding", "scene")


def make_row(
    *,
    row_id: str,
    subject: dict,
    qtype: str,
    attribute: str,
    tmpl: Template,
    value: str,
    wrong: list[str],
    rnd: random.Random,
    keys: list[str] | None = None,
    image: bool = True,
    **fmt: str,
) -> dict:
    """One question row; ``wrong`` are the 3 wrong values (same template, other values)."""

    def say(v: str) -> str:
        return tmpl.answer.format(value=v, a=article(v), **fmt)

    phrasings = [p.format(**fmt) for p in tmpl.phrasings]
    options = [value, *wrong]
    rnd.shuffle(options)
    return {
        "id": row_id,
        "subject_id": subject["id"],
        "domain": subject["domain"],
        "qtype": qtype,
        "attribute": attribute,
        "image": subject["image"] if image else "",
        "question": phrasings[0],
        "phrasings": phrasings,
        "paraphrases": [p.format(**fmt) for p in tmpl.paraphrases],
        "answer": say(value),
        "keys": [value] if keys is None else keys,
        "perturbed": [say(w) for w in wrong],
        "options": options,
        "answer_index": options.index(value),
    }


def _wrong(values, gold: str, rnd: random.Random) -> list[str]:
    return rnd.sample([v for v in values if v != gold], N_WRONG)


def profile_rows(
    person: dict, qtypes: tuple[str, ...], names: list[str], rnd: random.Random
) -> list[dict]:
    """Rows of one profile for the requested question types.

    image_memory: identity + every private fact, asked about the image ("this person");
    text_memory: every private fact, asked by name; understanding: every visible feature.
    """
    d, name = person["domain"], person["name"]
    rows = []
    if "image_memory" in qtypes:
        rows.append(
            make_row(
                row_id=f"{person['id']}/image_memory/identity",
                subject=person,
                qtype="image_memory",
                attribute="identity",
                tmpl=templates.IDENTITY[d],
                value=name,
                wrong=_wrong(names, name, rnd),
                rnd=rnd,
                name=name,
            )
        )
    for qtype, who in (("image_memory", templates.WHO[d]), ("text_memory", name)):
        if qtype not in qtypes:
            continue
        for attr, value in person["private"].items():
            rows.append(
                make_row(
                    row_id=f"{person['id']}/{qtype}/{attr}",
                    subject=person,
                    qtype=qtype,
                    attribute=attr,
                    tmpl=templates.PRIVATE[attr],
                    value=value,
                    wrong=_wrong(PRIVATE[d][attr], value, rnd),
                    rnd=rnd,
                    image=qtype == "image_memory",
                    who=who,
                    name=name,
                )
            )
    if "understanding" in qtypes:
        for attr, value in person["visible"].items():
            rows.append(
                make_row(
                    row_id=f"{person['id']}/understanding/{attr}",
                    subject=person,
                    qtype="understanding",
                    attribute=attr,
                    tmpl=templates.UNDERSTANDING[attr],
                    value=value,
                    wrong=_wrong(VISIBLE[d][attr], value, rnd),
                    rnd=rnd,
                )
            )
    return rows


OBJECT_VALUES = tuple(f"{c} {s}" for s in vocab.SHAPES for c in vocab.SHAPE_COLORS)


def caption(objects: list[str]) -> str:
    """'a red circle', 'a red circle and a blue square', 'a red circle, a blue square and ...'."""
    parts = [article(o) + o for o in objects]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def scene_rows(scene: dict, rnd: random.Random) -> list[dict]:
    """VQA rows of one scene; objects are listed in the canonical slot order (left, top, ...)."""
    objs = scene["objects"]  # already in slot order
    names = [f"{o['color']} {o['shape']}" for o in objs]
    rows = []

    def add(suffix: str, attr: str, value: str, wrong: list[str], **kw) -> None:
        rows.append(
            make_row(
                row_id=f"{scene['id']}/scene/{suffix}",
                subject=scene,
                qtype="scene",
                attribute=attr,
                tmpl=templates.SCENE[attr],
                value=value,
                wrong=wrong,
                rnd=rnd,
                **kw,
            )
        )

    n = str(len(objs))
    add("count", "count", n, _wrong(["1", "2", "3", "4"], n, rnd))
    gold = caption(names)
    wrong: list[str] = []
    while len(wrong) < N_WRONG:  # swap one object for another one
        alt = list(names)
        alt[rnd.randrange(len(alt))] = rnd.choice(OBJECT_VALUES)
        if caption(alt) != gold and caption(alt) not in wrong:
            wrong.append(caption(alt))
    add("objects", "objects", gold, wrong, keys=list(dict.fromkeys(names)))
    for o, obj in zip(objs, names, strict=True):
        add(f"object/{o['slot']}", "object", obj, _wrong(OBJECT_VALUES, obj, rnd), slot=o["slot"])
    for shape in vocab.SHAPES:
        same = [o for o in objs if o["shape"] == shape]
        if len(same) == 1:
            c = same[0]["color"]
            add(f"color/{shape}", "color", c, _wrong(vocab.SHAPE_COLORS, c, rnd), shape=shape)
    for o, obj in zip(objs, names, strict=True):
        if names.count(obj) == 1:
            s = o["slot"]
            add(
                f"position/{obj.replace(' ', '_')}",
                "position",
                s,
                _wrong(vocab.SLOTS, s, rnd),
                obj=obj,
            )
    return rows


def make_scene(sid: str, rnd: random.Random) -> dict:
    """A scene: 1-4 shapes in distinct slots, listed in the canonical slot order."""
    slots = sorted(rnd.sample(vocab.SLOTS, rnd.randint(1, 4)), key=vocab.SLOTS.index)
    objects = [
        {"slot": s, "shape": rnd.choice(vocab.SHAPES), "color": rnd.choice(vocab.SHAPE_COLORS)}
        for s in slots
    ]
    return {"id": sid, "domain": "scenes", "image": f"images/scenes/{sid}.png", "objects": objects}
