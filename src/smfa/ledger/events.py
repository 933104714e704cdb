"""The ledger's events and their replay: pure functions on lists of dicts, no files.

``ledger.jsonl`` holds one event per line, oldest first, never edited (docs/ledger.md):

- ``init``: the base model and benchmark (paths and hashes), the composition ``mode``
  (``independent`` or ``sequential``) and ``resculpt``;
- ``add``: one deletion request ``id`` (``r0001``, ``r0002``, ...; never reused) with who, when,
  what (``forget``: the split or profile list as asked, ``profiles``: the resolved ids), the
  method, its options and training settings, and the hashes of what it wrote (``dir``);
- ``remove``: request ``id`` withdrawn (who, when, reason);
- ``retrain``: in sequential mode, a later request trained again on the model without the
  removed one (new ``dir`` and hashes; same profiles and settings).

:func:`replay` turns the events into the current state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MODES = ("independent", "sequential")
EVENTS = ("init", "add", "remove", "retrain")


@dataclass
class Request:
    """One deletion request as the events leave it."""

    id: str
    profiles: list[str]
    event: dict  # the add event (settings of the request)
    dir: str  # folder of its current delta, relative to the ledger
    hashes: dict
    active: bool = True
    revision: int = 1


@dataclass
class State:
    """The ledger after replaying its events: the init event and every request in order."""

    init: dict
    requests: list[Request] = field(default_factory=list)

    @property
    def active(self) -> list[Request]:
        return [r for r in self.requests if r.active]

    def get(self, rid: str) -> Request | None:
        return next((r for r in self.requests if r.id == rid), None)

    @property
    def forgotten(self) -> set[str]:
        """Profiles forgotten by the active requests."""
        return {p for r in self.active for p in r.profiles}

    def next_id(self) -> str:
        return f"r{len(self.requests) + 1:04d}"


def replay(events: list[dict]) -> State:
    """The state the events describe. Raises ``ValueError`` (naming the event's line) for an
    event log that is not one this module wrote: first event not ``init``, unknown event,
    a request added twice, removing or retraining an unknown or removed request."""
    if not events or events[0].get("event") != "init":
        raise ValueError("line 1: the first event must be 'init'")
    state = State(events[0])
    for line, ev in enumerate(events[1:], start=2):
        kind, rid = ev.get("event"), ev.get("id")
        if kind not in EVENTS or kind == "init":
            raise ValueError(f"line {line}: unknown event {kind!r}")
        req = state.get(rid)
        if kind == "add":
            if req is not None:
                raise ValueError(f"line {line}: request {rid} added twice")
            state.requests.append(
                Request(rid, list(ev["profiles"]), ev, ev["dir"], dict(ev.get("hashes", {})))
            )
            continue
        if req is None or not req.active:
            raise ValueError(f"line {line}: {kind} of {rid}: no such active request")
        if kind == "remove":
            req.active = False
        else:
            req.dir, req.hashes, req.revision = (
                ev["dir"],
                dict(ev.get("hashes", {})),
                req.revision + 1,
            )
    return state


def later_than(state: State, rid: str) -> list[Request]:
    """The active requests added after ``rid`` (those sequential mode must retrain)."""
    ids = [r.id for r in state.requests]
    i = ids.index(rid)
    return [r for r in state.requests[i + 1 :] if r.active]
