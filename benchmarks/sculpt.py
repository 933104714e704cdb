"""Sculpt + merge at 7B Llama shapes: streamed from the factors vs the floor vs the dense path.

One decoder layer of a 7B Llama (q, k, v, o 4096×4096; gate, up 11008×4096; down 4096×11008),
LoRA rank 16 (alpha 16), one thread. For each module, in one process and interleaved, the
median of ``--runs`` runs of:

- floor: the two low-rank products (into preallocated buffers) plus one ``W += ΔW`` pass;
- streamed: ``smfa.sculpt.sculpt_streamed`` adding ΔW'_f into W row chunk by row chunk;
- dense (the implementation before issue 14): both ΔW formed whole, ``sculpt``, ``merge``.

Peak extra memory is the growth of the RSS high-water mark (``ru_maxrss``) of a fresh process
for the largest module, everything else allocated first. End to end: ``smfa sculpt`` (the
stage function, in process) on the seven modules saved as peft adapters vs the least work that
gives a file of the same size: one product ΔW_f = s·B@A per layer, written as it is formed.

    OMP_NUM_THREADS=1 python benchmarks/sculpt.py --runs 5

Writes docs/results/sculpt.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _summary import save

SHAPES = {
    "q_proj": (4096, 4096),
    "k_proj": (4096, 4096),
    "v_proj": (4096, 4096),
    "o_proj": (4096, 4096),
    "gate_proj": (11008, 4096),
    "up_proj": (11008, 4096),
    "down_proj": (4096, 11008),
}
RANK = 16
ALPHA = 16
LAYERS_7B = 32


def factors(shape, seed):
    """LoRA factors of a trained-looking adapter: A ~ N(0, 1/in), B ~ N(0, 0.01²)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    out_f, in_f = shape
    A = torch.randn(RANK, in_f, generator=g) / in_f**0.5
    B = torch.randn(out_f, RANK, generator=g) * 0.01
    return A, B


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def time_module(shape, runs: int, dense_runs: int, k: float, chunk_rows: int) -> dict:
    import torch

    from smfa.sculpt import lora_delta, lowrank, merge, sculpt, sculpt_streamed

    s = ALPHA / RANK
    (Af, Bf), (Aa, Ba) = factors(shape, 1), factors(shape, 2)
    f, a = lowrank(Af, Bf, s), lowrank(Aa, Ba, s)
    W = torch.randn(shape)
    P1, P2 = torch.empty(shape), torch.empty(shape)

    def floor():
        torch.mm(Bf, Af, out=P1)
        torch.mm(Ba, Aa, out=P2)
        W.add_(P1)

    def add(i, chunk):
        W[i : i + chunk.shape[0]].add_(chunk)

    def streamed():
        sculpt_streamed(f, a, k, sink=add, chunk_rows=chunk_rows)

    def old():
        W.copy_(merge(W, sculpt(lora_delta(Af, Bf, s), lora_delta(Aa, Ba, s), k)[0]))

    floor(), streamed()  # warm up (first-touch page faults, kernels)
    times = {"floor": [], "streamed": [], "dense": []}
    for i in range(max(runs, dense_runs)):
        if i < runs:
            times["floor"].append(timed(floor))
            times["streamed"].append(timed(streamed))
        if i < dense_runs:  # the dense path takes seconds per module: fewer runs
            times["dense"].append(timed(old))
    return {name: statistics.median(t) if t else None for name, t in times.items()}


def peak_memory(which: str, k: float, chunk_rows: int) -> None:
    """Child process: print the RSS high-water growth (MiB) of one run on the largest module."""
    import torch

    from smfa.sculpt import lora_delta, lowrank, merge, sculpt, sculpt_streamed

    torch.set_num_threads(1)
    shape = SHAPES["gate_proj"]
    s = ALPHA / RANK
    (Af, Bf), (Aa, Ba) = factors(shape, 1), factors(shape, 2)
    W = torch.randn(shape)
    small = lowrank(*factors((64, 64), 3), s)
    sculpt_streamed(small, small, k, sink=lambda i, c: None)  # import/kernel warm-up
    f, a = lowrank(Af, Bf, s), lowrank(Aa, Ba, s)  # the factors (float32) count as "before"
    before = _reset_peak()
    if which == "streamed":
        sculpt_streamed(
            f, a, k, sink=lambda i, c: W[i : i + c.shape[0]].add_(c), chunk_rows=chunk_rows
        )
    else:
        W.copy_(merge(W, sculpt(lora_delta(Af, Bf, s), lora_delta(Aa, Ba, s), k)[0]))
    after = _status_kib("VmHWM")
    print(json.dumps({"extra_mib": (after - before) / 1024}))


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def _reset_peak() -> int:
    """Reset the RSS high-water mark (``clear_refs`` 5, Linux >= 4.0) and return the RSS (KiB).

    ``ru_maxrss`` cannot be used: after fork + exec it starts at the parent's RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kib("VmRSS")
    except OSError:
        return _status_kib("VmHWM")


def child_peak(which: str, k: float, chunk_rows: int) -> float:
    cmd = [sys.executable, __file__, "--memory", which, "--k", str(k)]
    cmd += ["--chunk-rows", str(chunk_rows)] if chunk_rows else []
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["extra_mib"]


def write_adapter(folder: Path, seed: int) -> None:
    """A peft-layout LoRA on the seven modules of one decoder layer (float32)."""
    from smfa.io import save_safetensors

    folder.mkdir(parents=True)
    prefix = "base_model.model.model.layers.0"
    tensors, modules = {}, []
    for i, (name, shape) in enumerate(SHAPES.items()):
        part = "self_attn" if name in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
        A, B = factors(shape, seed * 10 + i)
        tensors[f"{prefix}.{part}.{name}.lora_A.weight"] = A
        tensors[f"{prefix}.{part}.{name}.lora_B.weight"] = B
        modules.append(name)
    cfg = {"peft_type": "LORA", "r": RANK, "lora_alpha": ALPHA, "target_modules": modules}
    (folder / "adapter_config.json").write_text(json.dumps(cfg))
    save_safetensors(folder / "adapter_model.safetensors", tensors)


def end_to_end(runs: int, k: float) -> dict:
    """``smfa sculpt`` vs computing ΔW_f = s·B@A of every layer and writing it (float32)."""
    import torch
    from safetensors import safe_open

    from smfa.adapters import (
        adapter_layers,
        iter_adapter_deltas,
        lazy_adapter_deltas,
        sculpt_deltas,
        write_delta,
    )
    from smfa.io import SafetensorsWriter
    from smfa.stages.sculpt import sculpt as sculpt_stage

    root = Path(tempfile.mkdtemp(prefix="smfa-bench-sculpt-"))
    try:
        write_adapter(root / "mfa", 1)
        write_adapter(root / "ra", 2)
        mfa, ra = root / "mfa", root / "ra"

        def ours():
            sculpt_stage(str(mfa), str(ra), str(root / "out"), k=k, overwrite=True)

        def reference():
            # the least work that yields the same file: one product per layer, written as it
            # is formed (the same writer, so both sides pay the same I/O)
            layers = adapter_layers(mfa)
            path = mfa / "adapter_model.safetensors"
            with safe_open(str(path), framework="pt") as f:
                specs = {}
                for base, e in layers.items():
                    b_rows = f.get_slice(e["b"]).get_shape()[0]
                    specs[base] = (torch.float32, (b_rows, f.get_slice(e["a"]).get_shape()[1]))
                with SafetensorsWriter(root / "ref.safetensors", specs) as w:
                    for base, e in layers.items():
                        A, B = f.get_tensor(e["a"]), f.get_tensor(e["b"])
                        w.write(base, (B @ A) * e["scaling"])

        def old():
            deltas = sculpt_deltas(iter_adapter_deltas(mfa), lazy_adapter_deltas(ra), k)
            (root / "old").mkdir(exist_ok=True)
            write_delta(root / "old", {key: d for key, d, _ in deltas}, "smfa")

        ours(), reference()  # warm up
        times = {"ours": [], "reference": [], "old": []}
        for _ in range(runs):
            times["reference"].append(timed(reference))
            times["ours"].append(timed(ours))
            times["old"].append(timed(old))
        size = (root / "out" / "delta.safetensors").stat().st_size
        with safe_open(str(root / "out" / "delta.safetensors"), framework="pt") as f:
            dtypes = {str(f.get_slice(key).get_dtype()) for key in f.keys()}
        return {
            **{name: statistics.median(t) for name, t in times.items()},
            "bytes": size,
            "dtypes": sorted(dtypes),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dense-runs", type=int, default=3, help="runs of the slow dense path")
    ap.add_argument("--k", type=float, default=5.0)
    ap.add_argument("--chunk-rows", type=int, default=None)
    ap.add_argument("--e2e-runs", type=int, default=3)
    ap.add_argument("--memory", choices=["streamed", "dense"], help=argparse.SUPPRESS)
    args = ap.parse_args()

    import torch

    chunk_rows = args.chunk_rows
    if args.memory:
        peak_memory(args.memory, args.k, chunk_rows)
        return
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    rows, tot = [], {"floor": 0.0, "streamed": 0.0, "dense": 0.0}
    for name, shape in SHAPES.items():
        t = time_module(shape, args.runs, args.dense_runs, args.k, chunk_rows)
        for key in tot:
            tot[key] += t[key]
        rows.append(
            [
                name,
                f"{shape[0]}×{shape[1]}",
                round(t["floor"], 3),
                round(t["streamed"], 3),
                round(t["streamed"] / t["floor"], 2),
                round(t["dense"], 3),
                round(t["dense"] / t["floor"], 1),
            ]
        )
        print(rows[-1], flush=True)
    ratio = tot["streamed"] / tot["floor"]
    ratio_old = tot["dense"] / tot["floor"]
    rows.append(
        [
            "decoder layer",
            "7 modules",
            round(tot["floor"], 3),
            round(tot["streamed"], 3),
            round(ratio, 2),
            round(tot["dense"], 3),
            round(ratio_old, 1),
        ]
    )
    mem_new = child_peak("streamed", args.k, chunk_rows)
    mem_old = child_peak("dense", args.k, chunk_rows)
    from smfa.sculpt import chunk_rows_for

    out_f, in_f = SHAPES["gate_proj"]
    chunk_mib = (chunk_rows or chunk_rows_for(in_f)) * in_f * 4 / 2**20
    factors_mib = 2 * RANK * (out_f + in_f) * 4 / 2**20
    delta_mib = out_f * in_f * 4 / 2**20
    e2e = end_to_end(args.e2e_runs, args.k)
    e2e_ratio = e2e["ours"] / e2e["reference"]
    e2e_old = e2e["old"] / e2e["reference"]
    values = {
        "runs": args.runs,
        "dense_runs": args.dense_runs,
        "k": args.k,
        "rank": RANK,
        "chunk_rows": chunk_rows or chunk_rows_for(in_f),
        "layer_floor_s": tot["floor"],
        "layer_streamed_s": tot["streamed"],
        "layer_dense_s": tot["dense"],
        "ratio": ratio,
        "ratio_dense": ratio_old,
        "speedup": tot["dense"] / tot["streamed"],
        "model_floor_s": LAYERS_7B * tot["floor"],
        "model_streamed_s": LAYERS_7B * tot["streamed"],
        "model_dense_s": LAYERS_7B * tot["dense"],
        "peak_streamed_mib": mem_new,
        "peak_dense_mib": mem_old,
        "chunk_mib": chunk_mib,
        "factors_mib": factors_mib,
        "delta_mib": delta_mib,
        "e2e_s": e2e["ours"],
        "e2e_reference_s": e2e["reference"],
        "e2e_dense_s": e2e["old"],
        "e2e_ratio": e2e_ratio,
        "e2e_ratio_dense": e2e_old,
        "e2e_mib": e2e["bytes"] / 2**20,
        "e2e_dtype": ",".join(e2e["dtypes"]),
    }
    notes = [
        f"threads: {torch.get_num_threads()}; one decoder layer = 7 modules; ×{LAYERS_7B} "
        "layers is the 7B extrapolation (the layers are independent and identical in cost)",
        "peak extra memory: growth of the RSS high-water mark (VmHWM after clear_refs) in a "
        "fresh process (W and the factors already "
        f"allocated) while one {out_f}×{in_f} module is sculpted and merged",
    ]
    if ratio > 3:
        notes.append(f"target missed: streamed sculpt + merge is {ratio:.2f}× the floor (> 3×)")
    if e2e_ratio > 1.5:
        notes.append(f"target missed: smfa sculpt end to end is {e2e_ratio:.2f}× (> 1.5×)")
    if mem_new > 8 * chunk_mib + factors_mib + 8:
        notes.append(f"peak extra memory {mem_new:.1f} MiB is above 8 chunks + the factors")
    print(json.dumps(values, indent=1))
    print("\n".join(notes))
    save(
        "sculpt",
        "Sculpting at 7B Llama shapes",
        tables={
            "layer": {
                "caption": "One 7B Llama decoder layer, LoRA rank 16, seconds (median of runs)",
                "headers": [
                    "module",
                    "shape",
                    "floor s",
                    "streamed s",
                    "streamed / floor",
                    "dense s",
                    "dense / floor",
                ],
                "rows": rows,
            }
        },
        values=values,
        notes=notes,
    )


if __name__ == "__main__":
    main()
