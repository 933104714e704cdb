"""Typed configuration shared by the stages (training, LoRA, unlearning).

Each dataclass validates itself in ``__post_init__`` and raises ``ValueError`` naming the field
and the bad value; the CLI turns that into a one-line error with exit code 2.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

SCHEDULES = ("constant", "linear", "cosine")


class Real(float):
    """A float whose command-line form also accepts ``inf`` (``--k inf``).

    jsonargparse reads a plain ``float`` flag as YAML, where ``inf`` is a string and only
    ``.inf`` is infinity; the CLI registers this type to parse its flags with ``float()``.
    """


def _check(cond: bool, name: str, value: Any, why: str) -> None:
    if not cond:
        raise ValueError(f"{name}={value!r}: {why}")


@dataclass
class LoraSettings:
    """LoRA adapter settings (paper defaults: rank 16, alpha 16, dropout 0.05).

    Attributes:
        r: adapter rank.
        alpha: LoRA alpha; ΔW = (alpha / r) · B @ A.
        dropout: dropout on the adapter input.
        target: regex (peft full match) of module names to adapt, or "language" for every
            attention/MLP projection of the language model (vision tower and projector excluded).
    """

    r: int = 16
    alpha: float = 16.0
    dropout: float = 0.05
    target: str = "language"

    def __post_init__(self) -> None:
        _check(self.r >= 1, "lora.r", self.r, "must be >= 1")
        _check(self.alpha > 0, "lora.alpha", self.alpha, "must be > 0")
        _check(0 <= self.dropout < 1, "lora.dropout", self.dropout, "must be in [0, 1)")


@dataclass
class TrainConfig:
    """One training run (used for the original model, retain-only model and every adapter).

    Attributes:
        epochs: passes over the main data stream (fractions allowed).
        max_steps: stop after this many optimizer steps (overrides epochs when set).
        batch_size: samples per step per stream (global, split across processes).
        lr: peak learning rate (AdamW).
        weight_decay: AdamW weight decay.
        warmup_ratio: fraction of steps with linear warm-up.
        schedule: learning-rate schedule after warm-up: constant, linear or cosine.
        grad_clip: max gradient norm (0 disables clipping).
        seed: seed for initialisation, shuffling and dropout.
        checkpoint_every: save a resumable checkpoint every N steps (0: only at the end).
        full_finetune: train every weight instead of a LoRA adapter.
        lora: adapter settings when ``full_finetune`` is false.
        threads: torch CPU threads (0 leaves torch's default).
        group_by_length: batch samples of similar token length together (each epoch is still
            shuffled; see ``smfa.train.group_by_length``): less padding, faster steps.
        lr_scale: learning-rate multipliers by parameter name: a parameter whose name contains
            a key trains at ``lr × value`` (the first matching key wins; others use ``lr``).
            E.g. ``{vision_tower: 0.1, multi_modal_projector: 0.1}`` for a LLaVA vision tower
            learned from scratch (docs/results.md); 0 freezes the matching parameters.
    """

    epochs: float = 5.0
    max_steps: int | None = None
    batch_size: int = 2
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    schedule: str = "constant"
    grad_clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 0
    full_finetune: bool = False
    lora: LoraSettings = field(default_factory=LoraSettings)
    threads: int = 0
    lr_scale: dict[str, float] = field(default_factory=dict)
    group_by_length: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.lora, dict):
            self.lora = from_dict(LoraSettings, self.lora, "lora")
        _check(self.epochs > 0, "epochs", self.epochs, "must be > 0")
        _check(
            self.max_steps is None or self.max_steps >= 1,
            "max_steps",
            self.max_steps,
            "must be >= 1",
        )
        _check(self.batch_size >= 1, "batch_size", self.batch_size, "must be >= 1")
        _check(self.lr > 0, "lr", self.lr, "must be > 0")
        _check(0 <= self.warmup_ratio < 1, "warmup_ratio", self.warmup_ratio, "must be in [0, 1)")
        _check(self.schedule in SCHEDULES, "schedule", self.schedule, f"one of {SCHEDULES}")
        _check(self.grad_clip >= 0, "grad_clip", self.grad_clip, "must be >= 0")
        _check(
            self.checkpoint_every >= 0, "checkpoint_every", self.checkpoint_every, "must be >= 0"
        )
        _check(self.threads >= 0, "threads", self.threads, "must be >= 0")
        _check(isinstance(self.lr_scale, dict), "lr_scale", self.lr_scale, "must be a mapping")
        for key, value in self.lr_scale.items():
            _check(
                isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0,
                f"lr_scale.{key}",
                value,
                "must be a number >= 0",
            )


def to_dict(cfg: Any) -> dict:
    """A plain dict of a (nested) config dataclass, for ``config.yaml`` files."""
    return dataclasses.asdict(cfg)


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def type_problem(value: Any, hint: Any) -> str | None:
    """What ``value`` should be for the type hint ``hint`` (None: it fits).

    Covers what YAML configs hold: int, float (ints allowed), bool, str, ``X | None``, list /
    tuple of X, dict of X, nested config dataclasses (a mapping); other hints are not checked.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint is None:
        return None
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        problems = [type_problem(value, a) for a in args if a is not type(None)]
        return None if any(p is None for p in problems) else " or ".join(problems)
    if value is None:
        return "a value (not null)"
    if hint is bool:
        return None if isinstance(value, bool) else _TYPE_NAMES[bool]
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if isinstance(hint, type) and issubclass(hint, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else "a number"
    if hint is str:
        return None if isinstance(value, str) else "a string"
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return "a list"
        inner = [a for a in args if a is not Ellipsis][:1]
        bad = [type_problem(v, inner[0]) for v in value] if inner else []
        return next(
            (f"a list of {b.removeprefix('a ').removeprefix('an ')}s" for b in bad if b), None
        )
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            return "a mapping"
        if len(args) == 2:
            bad = [type_problem(v, args[1]) for v in value.values()]
            return next((f"a mapping of {b}" for b in bad if b), None)
        return None
    if dataclasses.is_dataclass(hint):
        return None if isinstance(value, (dict, hint)) else "a mapping"
    return None


def from_dict(cls: type, data: dict | None, where: str = "config") -> Any:
    """Build ``cls`` from a dict: unknown keys and values of the wrong type are rejected with
    ``ValueError`` naming the field (``train.batch_size=2.5: expected an integer``) before
    ``__post_init__`` sees them."""
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(
            f"{where}: unknown field '{unknown[0]}' (known: {', '.join(sorted(names))})"
        )
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        problem = type_problem(value, hints.get(name, Any))
        if problem:
            raise ValueError(f"{where}.{name}={value!r}: expected {problem}")
    return cls(**data)
