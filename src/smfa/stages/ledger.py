"""Stage ``smfa ledger init|add|remove|show|build``: deletion requests over time on one base.

Each request is unlearned on its own (``smfa unlearn``'s methods and settings) and kept as its
own sculpted delta; the current model is the base plus the composed deltas of the active
requests (:mod:`smfa.ledger.build`). The record is ``LEDGER/ledger.jsonl``, append-only: who
asked what, when, with which method and options, and the hashes of base, benchmark, adapters
and deltas. A write appends its events last, in one atomic rename, after everything it wrote
is in place; a killed ``ledger add`` leaves the log as it was. Design: docs/ledger.md.
"""

from __future__ import annotations

import copy
import getpass
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from smfa import __version__
from smfa.errors import SmfaError
from smfa.io import check_no_pickle, output_lock, sha256_file, staged_dir, write_json, write_yaml
from smfa.ledger.events import MODES, State, later_than
from smfa.ledger.store import (
    KIND,
    LEDGER_FILE,
    REQUESTS,
    append_events,
    bench_hash,
    ledger_file,
    load_state,
    model_hash,
    request_hashes,
    trained_profiles,
)
from smfa.progress import say
from smfa.splits import SPLITS


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _who(who: str | None) -> str:
    if who:
        return who
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def init(
    base: str,
    ledger: str,
    bench: str | None = None,
    mode: str = "independent",
    resculpt: bool = False,
    who: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Start an empty ledger of deletion requests on a base model.

    Args:
        base: the base model folder (the original model, ``smfa train``).
        ledger: the ledger folder to create.
        bench: benchmark folder whose profiles the requests name (required).
        mode: independent (each request trained on the base; deltas summed; undo exact) or
            sequential (each request trained on the current model; undo retrains later ones).
        resculpt: re-sculpt each new SMFA delta against the sum of the earlier ones
            (docs/ledger.md).
        who: who creates the ledger (default: the login name).
        overwrite: replace an existing ledger (its requests are lost).
    """
    if mode not in MODES:
        raise SmfaError(f"--mode {mode}: one of {', '.join(MODES)}")
    if bench is None:
        raise SmfaError("smfa ledger init: missing argument '--bench' (the benchmark folder)")
    base_p, bench_p, out = Path(base), Path(bench), Path(ledger)
    check_no_pickle(base_p)
    hashes = {"base": model_hash(base_p), "bench": bench_hash(bench_p)}
    if ledger_file(out).is_file() and not overwrite:
        raise SmfaError(f"{ledger_file(out)}: a ledger exists; pass --overwrite to start anew")
    event = {
        "event": "init",
        "time": _now(),
        "who": _who(who),
        "base": str(base_p.resolve()),
        "bench": str(bench_p.resolve()),
        "mode": mode,
        "resculpt": bool(resculpt),
        "hashes": hashes,
        "smfa_version": __version__,
    }
    with output_lock(out), staged_dir(out, KIND, overwrite, [base, bench]) as tmp:
        append_events(tmp, [event])
        (tmp / REQUESTS).mkdir()
    say(f"[ledger] {mode} ledger on {base_p} at {out}")
    return out


# -- shared checks ----------------------------------------------------------------------------


def checked_base(state: State, ledger: Path, base: str | None = None) -> Path:
    """The base model folder, refused when its hash is not the one the ledger recorded."""
    path = Path(base or state.init["base"])
    got, want = model_hash(path), state.init["hashes"]["base"]
    if got != want:
        raise SmfaError(
            f"{path}: base model hash {got[:12]} differs from the ledger's {want[:12]} "
            f"({ledger_file(ledger)}: init); its requests were made on another model"
        )
    return path


def checked_bench(state: State, ledger: Path):
    from smfa.bench import load_valid

    path = Path(state.init["bench"])
    got, want = bench_hash(path), state.init["hashes"]["bench"]
    if got != want:
        raise SmfaError(
            f"{path}: benchmark hash {got[:12]} differs from the ledger's {want[:12]} "
            f"({ledger_file(ledger)}: init)"
        )
    return load_valid(str(path))


def resolve_profiles(forget: str, bench, state: State) -> list[str]:
    """``--forget``: a split name (its profiles) or comma-separated profile ids, each a trained
    profile of the bench and not forgotten by an active request."""
    items = [x.strip() for x in str(forget).split(",") if x.strip()]
    if not items:
        raise SmfaError("--forget: give a split name or comma-separated profile ids")
    if len(items) == 1 and items[0] in SPLITS:
        ids = sorted({r["subject_id"] for r in bench.split(items[0])})
    else:
        ids = sorted(set(items))
    known = trained_profiles(bench)
    for pid in ids:
        if pid not in known:
            raise SmfaError(
                f"--forget: unknown profile '{pid}' (not a trained profile of "
                f"{bench.root / 'profiles.jsonl'})"
            )
    taken = {p: r.id for r in state.active for p in r.profiles}
    for pid in ids:
        if pid in taken:
            raise SmfaError(f"--forget: profile '{pid}' is already forgotten by {taken[pid]}")
    return ids


def _work(ledger: Path) -> Path:
    work = ledger.parent / f".{ledger.name}.work"
    shutil.rmtree(work, ignore_errors=True)  # a killed earlier write's scratch
    work.mkdir(parents=True)
    return work


def _prune(ledger: Path) -> None:
    """Remove request folders no event refers to (a write killed after moving them in)."""
    from smfa.io import read_jsonl

    refs = {e.get("dir") for e in read_jsonl(ledger_file(ledger))}
    folder = ledger / REQUESTS
    for p in sorted(folder.iterdir()) if folder.is_dir() else []:
        if f"{REQUESTS}/{p.name}" not in refs:
            shutil.rmtree(p, ignore_errors=True)


def _model_for(ledger, state, base, upto, work, tag) -> Path:
    """The model request number ``upto`` trains on: the base, or (sequential) base + the
    deltas of the active requests before it, merged into the work folder."""
    from smfa.adapters import write_merged
    from smfa.ledger.build import composed

    if state.init["mode"] == "independent" or upto == 0:
        return base
    dest = work / f"model_{tag}"
    write_merged(base, composed(ledger, state, upto), dest)
    return dest


def _union(ledger, state, upto):
    from smfa.ledger.build import composed

    if not state.init.get("resculpt") or upto == 0:
        return None
    return composed(ledger, state, upto)


def _train_into(
    ledger, state, base, bench, profiles, method, settings, upto, rid, rev, work, device
):
    """Train one request on the right model and move its folder into ``requests/``."""
    from smfa.adapters import check_delta_matches
    from smfa.ledger.requests import settings_record, train_request, write_request

    # Independent requests depend on nothing but their own profiles (undo is exact); a
    # sequential one also keeps the earlier requests' profiles out of its D_r^few.
    sequential = state.init["mode"] == "sequential"
    forgotten = {p for r in state.active[:upto] for p in r.profiles} if sequential else set()
    model = _model_for(ledger, state, base, upto, work, rid)
    result = train_request(
        bench,
        set(profiles),
        forgotten,
        method,
        settings,
        model,
        work / f"train_{rid}",
        device,
        union=_union(ledger, state, upto),
        resculpt_on=bool(state.init.get("resculpt")),
    )
    check_delta_matches(result.delta, base, source=f"request {rid} ({method})")
    rel = f"{REQUESTS}/{rid}-{rev}"
    staged = work / f"out_{rid}"
    resolved = {"id": rid, "method": method, "profiles": profiles, **settings_record(settings)}
    resolved["trained_on"] = "base" if model == base else "base + earlier requests"
    write_request(staged, result, method, resolved)
    final = ledger / rel
    if final.exists():  # an unreferenced folder of a killed earlier write (checked by _prune)
        shutil.rmtree(final)
    os.replace(staged, final)
    return rel, request_hashes(final)


# -- commands ---------------------------------------------------------------------------------


def add(
    ledger: str,
    forget: str | None = None,
    method: str = "smfa",
    method_config: str | None = None,
    options: dict | None = None,
    seed: int | None = None,
    retain_few: int | None = None,
    max_steps: int | None = None,
    base: str | None = None,
    who: str | None = None,
    reason: str | None = None,
    device: str = "auto",
) -> str:
    """Add a deletion request: unlearn its profiles and record it (prints its id).

    Args:
        ledger: the ledger folder (``smfa ledger init``).
        forget: a split (forget05, ...) or comma-separated profile ids (p0003,p0007); required.
        method: a registered unlearning method (smfa; any method in a ledger without resculpt).
        method_config: YAML with train/options/retain_few, as for ``smfa unlearn``.
        options: the method's options, e.g. ``{"k": 2.0}``.
        seed: overrides ``train.seed``.
        retain_few: size of D_r^few (its profiles never include forgotten ones).
        max_steps: overrides the number of training steps.
        base: the base model folder if it moved (its hash must be the recorded one).
        who: who asked (default: the login name).
        reason: a note kept with the request (a ticket number, ...).
        device: auto, cpu, cuda, cuda:N.
    """
    from smfa.ledger.requests import check_resculpt, settings_record
    from smfa.registry import METHODS
    from smfa.runtime import resolve_device
    from smfa.stages.unlearn import is_tiny, resolve_settings

    if forget is None:
        raise SmfaError("smfa ledger add: missing argument '--forget' (a split or profile ids)")
    led = Path(ledger)
    state = load_state(led)
    base_p = checked_base(state, led, base)
    b = checked_bench(state, led)
    profiles = resolve_profiles(forget, b, state)
    METHODS.get(method)
    train = {"seed": seed, "max_steps": max_steps}
    settings = resolve_settings(method, is_tiny(base_p), method_config, options, train, retain_few)
    if state.init.get("resculpt"):
        check_resculpt(method, settings.options, settings.train)
    with output_lock(led):
        state = load_state(led)  # what another writer may have appended meanwhile
        profiles = resolve_profiles(forget, b, state)
        _prune(led)
        work = _work(led)
        rid = state.next_id()
        say(f"[ledger] {rid}: {method} on {len(profiles)} profile(s) ({state.init['mode']})")
        try:
            rel, hashes = _train_into(
                led,
                state,
                base_p,
                b,
                profiles,
                method,
                settings,
                len(state.active),
                rid,
                1,
                work,
                resolve_device(device),
            )
            hashes.update(state.init["hashes"])
            event = {
                "event": "add",
                "id": rid,
                "time": _now(),
                "who": _who(who),
                "reason": reason,
                "forget": forget,
                "profiles": profiles,
                "method": method,
                "settings": settings_record(settings),
                "depends_on": [r.id for r in state.active]
                if state.init["mode"] == "sequential" or state.init.get("resculpt")
                else [],
                "dir": rel,
                "hashes": hashes,
                "smfa_version": __version__,
            }
            append_events(led, [event])
        finally:
            shutil.rmtree(work, ignore_errors=True)
    say(f"[ledger] added {rid}")
    return rid


def settings_from_event(event: dict):
    """The resolved settings a request was trained with (for retraining it)."""
    from smfa.config import TrainConfig, from_dict
    from smfa.registry import METHODS
    from smfa.stages.unlearn import MethodSettings

    s = event["settings"]
    opts = {k: float(v) if v in ("inf", "-inf") else v for k, v in s["options"].items()}
    cls = METHODS.get(event["method"])
    return MethodSettings(
        from_dict(TrainConfig, s["train"], "train"),
        cls.Options(**opts),
        s["retain_few"],
        Path(s["config_file"]),
    )


def remove(
    ledger: str,
    request_id: str,
    who: str | None = None,
    reason: str | None = None,
    base: str | None = None,
    device: str = "auto",
) -> str:
    """Withdraw a request. Independent mode: its delta leaves the sum (exact). Sequential mode:
    the later requests are trained again on the model without it.

    Args:
        ledger: the ledger folder.
        request_id: the request to withdraw (``smfa ledger show`` lists them).
        who: who withdraws it (default: the login name).
        reason: a note kept with the event.
        base: the base model folder if it moved (its hash must be the recorded one).
        device: auto, cpu, cuda, cuda:N (sequential mode retrains).
    """
    from smfa.runtime import resolve_device

    led = Path(ledger)
    with output_lock(led):
        state = load_state(led)
        req = state.get(request_id)
        if req is None or not req.active:
            active = ", ".join(r.id for r in state.active) or "none"
            raise SmfaError(
                f"{ledger_file(led)}: no active request '{request_id}' (active: {active})"
            )
        events = [
            {
                "event": "remove",
                "id": request_id,
                "time": _now(),
                "who": _who(who),
                "reason": reason,
            }
        ]
        later = later_than(state, request_id) if state.init["mode"] == "sequential" else []
        if later:
            base_p = checked_base(state, led, base)
            b = checked_bench(state, led)
            _prune(led)
            work = _work(led)
            sim = copy.deepcopy(state)
            sim.get(request_id).active = False
            try:
                for r in later:
                    cur = sim.get(r.id)
                    upto = [x.id for x in sim.active].index(r.id)
                    say(f"[ledger] retraining {r.id} without {request_id}")
                    rel, hashes = _train_into(
                        led,
                        sim,
                        base_p,
                        b,
                        r.profiles,
                        r.event["method"],
                        settings_from_event(r.event),
                        upto,
                        r.id,
                        cur.revision + 1,
                        work,
                        resolve_device(device),
                    )
                    hashes.update(state.init["hashes"])
                    cur.dir, cur.hashes, cur.revision = rel, hashes, cur.revision + 1
                    events.append(
                        {
                            "event": "retrain",
                            "id": r.id,
                            "time": _now(),
                            "because": f"remove {request_id}",
                            "depends_on": [x.id for x in sim.active[:upto]],
                            "dir": rel,
                            "hashes": hashes,
                        }
                    )
            finally:
                shutil.rmtree(work, ignore_errors=True)
        append_events(led, events)
    say(f"[ledger] removed {request_id}" + (f"; retrained {len(later)}" if later else ""))
    return request_id


def show(ledger: str) -> str:
    """Print the ledger: its base, mode and every request (status, who, when, profiles,
    method) with an audit of the stored hashes.

    Args:
        ledger: the ledger folder.
    """
    led = Path(ledger)
    state = load_state(led)
    i = state.init
    lines = [
        f"ledger {led}: {i['mode']}{' + resculpt' if i.get('resculpt') else ''}, "
        f"base {i['base']} ({i['hashes']['base'][:12]}), bench {i['bench']}",
        f"{'id':6} {'status':8} {'rev':3} {'who':10} {'time':25} {'method':8} "
        f"{'profiles':30} audit",
    ]
    for r in state.requests:
        delta = led / r.dir / "delta.safetensors"
        ok = delta.is_file() and sha256_file(delta) == r.hashes.get("delta")
        profs = ",".join(r.profiles)
        lines.append(
            f"{r.id:6} {'active' if r.active else 'removed':8} {r.revision:<3} "
            f"{str(r.event.get('who')):10} {r.event['time']:25} {r.event['method']:8} "
            f"{profs[:30]:30} {'ok' if ok else 'HASH MISMATCH' if delta.is_file() else 'missing'}"
        )
    lines.append(
        f"{len(state.active)} active request(s), {len(state.forgotten)} profile(s) forgotten"
    )
    return "\n".join(lines)


def build(
    ledger: str, out: str, merge: bool = False, base: str | None = None, overwrite: bool = False
) -> Path:
    """Write the current model's update: the composed delta of the active requests.

    ``OUT/delta.safetensors`` applies to the base like any method's (``smfa eval BASE BENCH
    E.json --adapter OUT``); ``OUT/ledger.json`` names the requests and hashes it is made of.

    Args:
        ledger: the ledger folder.
        out: output folder.
        merge: also write the merged model (``save_pretrained``) to ``OUT/merged``.
        base: the base model folder if it moved (its hash must be the recorded one).
        overwrite: replace an existing ``out`` that is not an earlier ``smfa ledger build``.
    """
    from smfa.adapters import check_delta_matches, write_delta, write_merged
    from smfa.ledger.build import composed

    led = Path(ledger)
    state = load_state(led)
    base_p = checked_base(state, led, base)
    for r in state.active:
        delta = led / r.dir / "delta.safetensors"
        if not delta.is_file() or sha256_file(delta) != r.hashes.get("delta"):
            raise SmfaError(f"{delta}: missing or its sha256 differs from {LEDGER_FILE}")
    delta = composed(led, state)
    check_delta_matches(delta, base_p, source=str(led))
    record = {
        "ledger": str(led.resolve()),
        "ledger_sha256": sha256_file(ledger_file(led)),
        "mode": state.init["mode"],
        "resculpt": bool(state.init.get("resculpt")),
        "requests": [r.id for r in state.active],
        "profiles": sorted(state.forgotten),
        "hashes": {"base": state.init["hashes"]["base"], **{r.id: r.hashes for r in state.active}},
        "smfa_version": __version__,
    }
    with (
        output_lock(Path(out)),
        staged_dir(out, "ledger-build", overwrite, [ledger, base_p]) as tmp,
    ):
        write_delta(tmp, delta, "ledger")
        write_json(tmp / "ledger.json", record)
        write_yaml(tmp / "config.yaml", {"base": str(base_p.resolve()), **record})
        if merge:
            write_merged(base_p, delta, tmp / "merged")
    say(f"[ledger] built {len(state.active)} request(s) into {out}")
    return Path(out)
