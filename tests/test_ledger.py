"""The ledger of deletion requests (docs/ledger.md): composition math with hand-computed
numbers, event replay, and the commands on the tiny model: exact undo in independent mode,
sequential retraining, and a killed ``ledger add`` that leaves the ledger as it was."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from smfa.errors import SmfaError
from smfa.ledger.compose import resculpt, sum_deltas, union_mask
from smfa.ledger.events import replay
from smfa.ledger.protocol import request_facts, split_requests, step_rows
from smfa.paths import shipped_config

SMOKE = str(shipped_config("unlearn", "smoke.yaml"))


# -- pure math ---------------------------------------------------------------------------------


def test_sum_deltas_by_hand():
    a = {"x": torch.tensor([[1.0, -2.0]]), "y": torch.tensor([3.0])}
    b = {"x": torch.tensor([[0.5, 0.5]]), "z": torch.tensor([-1.0])}
    s = sum_deltas([a, b])
    assert list(s) == ["x", "y", "z"]
    assert s["x"].tolist() == [[1.5, -1.5]] and s["y"].tolist() == [3.0]
    assert s["z"].tolist() == [-1.0]
    assert sum_deltas([]) == {}
    with pytest.raises(ValueError, match="shape"):
        sum_deltas([a, {"x": torch.zeros(2)}])


def test_union_mask_and_resculpt_by_hand():
    # ΔW_f = [4, -1, 2, 3]; anchor [-1, 1, 0, 0]; union U = [0, 0, -1, 1].
    f = torch.tensor([4.0, -1.0, 2.0, 3.0])
    a = torch.tensor([-1.0, 1.0, 0.0, 0.0])
    u = torch.tensor([0.0, 0.0, -1.0, 1.0])
    # anchor: C_a = [T, T, F, F]; ρ_a = sqrt(30)/sqrt(2) = 3.873; k = 1: R_a = (3.873·|a| < |f|)
    # = [T, F, F, F] -> M_a = [T, F, F, F].
    # union: C_u = [F, F, T, F]; ρ_u = sqrt(30)/sqrt(2) = 3.873: R_u = (3.873·|u| < |f|)
    # = [T, T, F, F] (|u| = 0 entries: threshold 0) -> M_u = C_u & R_u = [F, F, F, F];
    # with k = 0.5: R_u = (1.936·|u| < |f|) = [T, T, T, T] -> M_u = [F, F, T, F].
    assert union_mask(f, u, 1.0).tolist() == [False, False, False, False]
    assert union_mask(f, u, 0.5).tolist() == [False, False, True, False]
    out, st = resculpt(f, a, u, 0.5)
    # k = 0.5: R_a = (1.936·|a| < |f|) = [T, F, T, T] -> M_a = C_a & R_a = [T, F, F, F].
    assert out.tolist() == [0.0, -1.0, 0.0, 3.0]
    assert st == {"numel": 4, "masked": 2, "masked_anchor": 1, "masked_union": 1}
    plain, st0 = resculpt(f, a, None, 0.5)
    assert plain.tolist() == [0.0, -1.0, 2.0, 3.0] and st0["masked_union"] == 0
    # an all-zero union is no earlier request (criteria r would otherwise delete everything)
    assert resculpt(f, a, torch.zeros(4), 0.5, "r")[1]["masked_union"] == 0


def test_replay_states_and_refusals():
    init = {"event": "init", "mode": "sequential", "hashes": {}}
    add = lambda i, p: {"event": "add", "id": i, "profiles": p, "dir": f"requests/{i}-1"}  # noqa: E731
    evs = [init, add("r0001", ["a"]), add("r0002", ["b"]), add("r0003", ["c"])]
    evs += [{"event": "remove", "id": "r0002"}]
    evs += [{"event": "retrain", "id": "r0003", "dir": "requests/r0003-2", "hashes": {"d": 1}}]
    s = replay(evs)
    assert [r.id for r in s.active] == ["r0001", "r0003"] and s.forgotten == {"a", "c"}
    assert s.get("r0003").dir == "requests/r0003-2" and s.get("r0003").revision == 2
    assert s.next_id() == "r0004"
    with pytest.raises(ValueError, match="line 1"):
        replay(evs[1:])
    with pytest.raises(ValueError, match="line 6: remove of r0002"):
        replay(evs[:5] + [{"event": "remove", "id": "r0002"}])
    with pytest.raises(ValueError, match="added twice"):
        replay([init, add("r0001", []), add("r0001", [])])


def test_split_requests_and_step_rows_by_hand():
    reqs = split_requests(["p5", "p1", "p3", "p2", "p4", "p6"], 4, seed=0)
    assert sorted(p for r in reqs for p in r) == ["p1", "p2", "p3", "p4", "p5", "p6"]
    assert sorted(len(r) for r in reqs) == [1, 1, 2, 2]
    assert split_requests(["p1", "p2", "p3"], 3, 0) == split_requests(["p3", "p2", "p1"], 3, 0)
    with pytest.raises(ValueError, match="requests=4"):
        split_requests(["a", "b"], 4, 0)
    recs = [
        {"id": "a/image_memory/x", "split": "forget15", "qtype": "image_memory", "fact": 10},
        {"id": "a/text_memory/x", "split": "forget15", "qtype": "text_memory", "fact": 4},
        {"id": "a/understanding/x", "split": "forget15", "qtype": "understanding", "fact": 0},
        {"id": "b/text_memory/x", "split": "forget15", "qtype": "text_memory", "fact": 2},
        {"id": "b/text_memory/x", "split": "retain", "qtype": "text_memory", "fact": 9},
    ]
    assert request_facts(recs, [["a"], ["b"], ["c"]], "forget15") == [7.0, 2.0, None]
    # fact[j](n): step 1 [1, 8], step 2 [3, 0.5]; rebound(2) = 3 - 1 = 2
    u = {"retain_mem": 9.0, "scenes": 8.0, "model_utility": 7.0}
    rows = step_rows([[1.0, 8.0], [3.0, 0.5]], [u, u])
    assert rows[0] == {"n": 1, "forgotten": 1.0, "rebound": 0.0, "per_request": [1.0, 8.0], **u}
    assert rows[1]["forgotten"] == 1.75 and rows[1]["rebound"] == 2.0


# -- the commands ------------------------------------------------------------------------------


def cli(*argv) -> None:
    from smfa.cli import main

    main([str(a) for a in argv])


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


def _add(ledger, profiles):
    from smfa.stages import ledger as L

    return L.add(str(ledger), profiles, method_config=SMOKE, who="test")


def _delta(folder):
    from smfa.io import load_safetensors

    return load_safetensors(Path(folder) / "delta.safetensors")


@pytest.fixture(scope="module")
def forget_ids(small_bench):
    from smfa.bench import load

    return sorted({r["subject_id"] for r in load(small_bench).split("forget15")})


def test_independent_undo_is_exact(tiny_original, small_bench, forget_ids, tmp_path, monkeypatch):
    from smfa.stages import ledger as L

    monkeypatch.setenv("SMFA_QUIET", "1")
    p1, p2, p3 = forget_ids[:3]
    a, b = tmp_path / "a", tmp_path / "b"
    L.init(str(tiny_original), str(a), bench=str(small_bench))
    ids = [_add(a, p) for p in (p1, p2, p3)]
    assert ids == ["r0001", "r0002", "r0003"]
    L.build(str(a), str(tmp_path / "all"))
    cli("ledger", "remove", a, "r0002", "--who", "test")
    L.build(str(a), str(tmp_path / "a_out"))
    L.init(str(tiny_original), str(b), bench=str(small_bench))
    _add(b, p1)
    _add(b, p3)
    L.build(str(b), str(tmp_path / "b_out"))
    got, want, full = (_delta(tmp_path / n) for n in ("a_out", "b_out", "all"))
    assert set(got) == set(want)
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-6, atol=1e-7)
    # the sum of all three minus request 2 is the same model
    r2 = _delta(a / "requests" / "r0002-1")
    key = next(iter(want))
    torch.testing.assert_close(full[key] - r2[key], want[key], rtol=1e-5, atol=1e-6)
    assert not torch.equal(full[key], want[key])
    text = L.show(str(a))
    assert "r0002  removed" in text and text.count(" ok") == 3
    with pytest.raises(SmfaError, match="already forgotten by r0001"):
        _add(a, p1)


def test_sequential_remove_retrains_later(tiny_original, small_bench, forget_ids, tmp_path):
    from smfa.ledger.store import load_state
    from smfa.stages import ledger as L

    p1, p2, p3 = forget_ids[:3]
    led = tmp_path / "s"
    L.init(str(tiny_original), str(led), bench=str(small_bench), mode="sequential", resculpt=True)
    for p in (p1, p2, p3):
        _add(led, p)
    before = _delta(led / "requests" / "r0003-1")
    L.remove(str(led), "r0002", who="test")
    state = load_state(led)
    assert [r.id for r in state.active] == ["r0001", "r0003"]
    assert state.get("r0003").dir == "requests/r0003-2"
    after = _delta(led / "requests" / "r0003-2")
    key = next(iter(after))
    assert not torch.equal(before[key], after[key])  # trained on base + r0001 only now
    events = (led / "ledger.jsonl").read_text().splitlines()
    assert [e.split('"event": "')[1].split('"')[0] for e in events] == [
        "init",
        "add",
        "add",
        "add",
        "remove",
        "retrain",
    ]
    L.build(str(led), str(tmp_path / "out"))
    total = _delta(tmp_path / "out")
    first = _delta(led / "requests" / "r0001-1")
    torch.testing.assert_close(total[key], first[key] + after[key], rtol=1e-5, atol=1e-6)


def test_killed_add_leaves_the_ledger_as_it_was(tiny_original, small_bench, forget_ids, tmp_path):
    from smfa.stages import ledger as L

    led = tmp_path / "k"
    L.init(str(tiny_original), str(led), bench=str(small_bench))
    _add(led, forget_ids[0])
    before = tree(led)
    started = tmp_path / ".k.work" / "train_r0002" / "mfa"  # made when training starts
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    env.update(SMFA_QUIET="1", OMP_NUM_THREADS="1")
    argv = [sys.executable, "-m", "smfa", "ledger", "add", str(led), "--forget", forget_ids[1]]
    argv += ["--method_config", SMOKE, "--max_steps", "100000"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not started.is_dir():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.2)
        time.sleep(1.0)
        assert proc.poll() is None, "the add finished before it could be killed"
        proc.send_signal(signal.SIGKILL)  # mid-training
    finally:
        proc.kill()
        proc.wait()
    assert tree(led) == before
    # the ledger still works: the killed write's scratch and lock are no obstacle
    assert _add(led, forget_ids[1]) == "r0002"


def test_report_section_reads_the_protocol_summary(tmp_path):
    import json

    from smfa.report.sequential import load_summary, plot, table_rows

    u = {"retain_mem": 9.0, "scenes": 8.0, "model_utility": 7.0}
    summary = {
        "requests": [["a"], ["b"]],
        "forget": "forget15",
        "base": {"per_request": [10.0, 9.0], **u},
        "modes": {
            "sequential": step_rows([[1.0, 9.0], [3.0, 0.5]], [u, u]),
            "independent": step_rows([[1.0, 9.0], [1.0, 0.5]], [u, u]),
        },
    }
    (tmp_path / "sequential").mkdir()
    (tmp_path / "sequential" / "summary.json").write_text(json.dumps(summary))
    assert load_summary(tmp_path) == summary
    rows = table_rows(summary)
    assert rows[0] == ["base", "0", "9.50", "–", "9.00", "8.00", "7.00"]
    assert [r[:4] for r in rows[1:]] == [
        ["independent", "1", "1.00", "0.00"],
        ["independent", "2", "0.75", "0.00"],
        ["sequential", "1", "1.00", "0.00"],
        ["sequential", "2", "1.75", "2.00"],
    ]
    assert plot(summary)[:4] == b"\x89PNG"


def test_protocol_summary_from_eval_jsons(tmp_path):
    import json

    from smfa.pipeline.sequential import SequentialConfig, summary

    def ev(name, fa, fb, retain):
        recs = [
            {"id": "a/text_memory/x", "split": "forget15", "qtype": "text_memory", "fact": fa},
            {"id": "b/image_memory/x", "split": "forget15", "qtype": "image_memory", "fact": fb},
        ]
        main = {"fact": {"retain_mem": retain, "scenes": 8.0, "model_utility": 7.5}}
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps({"summary": {"main": main}, "records": recs}))
        return p

    base = ev("base", 10.0, 10.0, 9.0)
    evals = {"independent": [ev("i1", 1.0, 10.0, 8.0), ev("i2", 2.0, 0.0, 7.0)]}
    out = summary([["a"], ["b"]], evals, base, "forget15", SequentialConfig())
    assert out["base"] == {
        "per_request": [10.0, 10.0],
        "retain_mem": 9.0,
        "scenes": 8.0,
        "model_utility": 7.5,
    }
    s1, s2 = out["modes"]["independent"]
    assert (s1["forgotten"], s1["rebound"], s1["retain_mem"]) == (1.0, 0.0, 8.0)
    assert (s2["forgotten"], s2["rebound"], s2["retain_mem"]) == (1.0, 1.0, 7.0)
    with pytest.raises(ValueError, match="requests=1"):
        SequentialConfig(requests=1)
    with pytest.raises(ValueError, match="unknown mode 'x'"):
        SequentialConfig(modes=["x"])
    with pytest.raises(ValueError, match="resculpt needs smfa"):
        SequentialConfig(method="ga")
