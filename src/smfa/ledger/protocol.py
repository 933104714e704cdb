"""The sequential-requests protocol's pure parts: splitting a forget set into requests, and the
per-step figures from eval records (forgetting per request, rebound, utility). No files.

Definitions (docs/ledger.md):

- ``fact[j](n)``: mean Fact score (0–10) of the memory questions (image and text) of request
  ``j``'s profiles, evaluated after ``n`` requests (``n = 0``: the base model);
- ``forgotten(n)``: mean of ``fact[j](n)`` over the requests made so far (``j ≤ n``): lower is
  better forgetting;
- ``rebound(n)``: mean over the earlier requests ``j < n`` of ``fact[j](n) − fact[j](j)``: how
  much the facts of earlier requests came back since they were forgotten (0 = none);
- utility: ``retain_mem``, ``scenes`` and ``model_utility`` of the eval summary (Fact scale).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

MEMORY_QTYPES = ("image_memory", "text_memory")


def split_requests(profiles: Sequence[str], n: int, seed: int) -> list[list[str]]:
    """``profiles`` shuffled with ``seed`` and dealt into ``n`` requests (sizes differ by at most
    one; each request's ids sorted). Raises ``ValueError`` when ``n`` is not in
    ``[1, len(profiles)]``."""
    ids = sorted(set(profiles))
    if not 1 <= n <= len(ids):
        raise ValueError(f"requests={n}: must be in [1, {len(ids)}] (the forget set's profiles)")
    random.Random(seed).shuffle(ids)
    return [sorted(ids[i::n]) for i in range(n)]


def subject_of(record: Mapping) -> str:
    """The profile id of an eval record (``p0007/image_memory/birth_year`` → ``p0007``)."""
    return str(record["id"]).split("/", 1)[0]


def request_facts(
    records: Sequence[Mapping], requests: Sequence[Sequence[str]], split: str
) -> list[float | None]:
    """``fact[j]`` for every request ``j``: mean ``fact`` of ``split``'s memory records of its
    profiles (``None`` when none was evaluated)."""
    out = []
    for req in requests:
        want = set(req)
        vals = [
            float(r["fact"])
            for r in records
            if r.get("split") == split
            and r.get("qtype") in MEMORY_QTYPES
            and r.get("fact") is not None
            and subject_of(r) in want
        ]
        out.append(sum(vals) / len(vals) if vals else None)
    return out


def _mean(vals) -> float | None:
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def step_rows(facts: Sequence[Sequence[float | None]], utility: Sequence[Mapping]) -> list[dict]:
    """The protocol's figures after each step.

    ``facts[n-1][j]`` is ``fact[j](n)`` for steps ``n = 1..N``; ``utility[n-1]`` holds the
    eval summary's ``retain_mem``, ``scenes``, ``model_utility``. Returns one dict per step:
    ``n, forgotten, rebound, per_request`` plus the utility fields.
    """
    rows = []
    for n in range(1, len(facts) + 1):
        now = facts[n - 1]
        rebound = [
            now[j] - facts[j][j]
            for j in range(n - 1)
            if now[j] is not None and facts[j][j] is not None
        ]
        rows.append(
            {
                "n": n,
                "forgotten": _mean(now[:n]),
                "rebound": _mean(rebound) if n > 1 else 0.0,
                "per_request": list(now),
                **{k: utility[n - 1].get(k) for k in ("retain_mem", "scenes", "model_utility")},
            }
        )
    return rows
