"""The processes of one ``accelerate launch`` run: rank, barrier, ordered gathers.

``accelerate launch --multi_gpu --num_processes N -m smfa ...`` (torchrun underneath) starts N
copies of a command. The training loop shares each global batch among them (DDP); evaluation
gives each process its blocks of questions (:func:`shard_blocks`) and puts the answers back in
order (:func:`gather_blocks`); only the main process takes the output lock and writes. In one
process every function here is a no-op. The process group is started on first use (gloo on
CPU, nccl on GPU, chosen by accelerate). Gathered records travel as JSON, never pickled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import nullcontext


def launched() -> bool:
    """Whether this process is one of several (``WORLD_SIZE`` > 1, set by the launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _group():
    import torch.distributed as d

    if not launched():
        return None
    if not d.is_initialized():
        import torch
        from accelerate import PartialState

        PartialState(cpu=not torch.cuda.is_available())
    return d


def rank() -> int:
    """This process's index (0 = main)."""
    d = _group()
    return d.get_rank() if d else 0


def world() -> int:
    """Number of processes."""
    d = _group()
    return d.get_world_size() if d else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    """Wait until every process got here."""
    d = _group()
    if d:
        d.barrier()


def main_only(ctx):
    """``ctx`` (e.g. ``io.output_lock(out)``) on the main process, nothing elsewhere."""
    return ctx if is_main() else nullcontext()


def gather_json(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every process (JSON-encoded byte tensors)."""
    d = _group()
    if not d:
        return [obj]
    import torch

    dev = torch.device("cuda", torch.cuda.current_device()) if d.get_backend() == "nccl" else "cpu"
    data = torch.tensor(list(json.dumps(obj).encode()), dtype=torch.uint8, device=dev)
    sizes = [torch.zeros(1, dtype=torch.long, device=dev) for _ in range(d.get_world_size())]
    d.all_gather(sizes, torch.tensor([data.numel()], device=dev))
    n = int(max(s.item() for s in sizes))
    buf = [torch.zeros(n, dtype=torch.uint8, device=dev) for _ in sizes]
    d.all_gather(buf, torch.cat([data, data.new_zeros(n - data.numel())]))
    return [json.loads(bytes(b[: int(s.item())].tolist()).decode()) for b, s in zip(buf, sizes)]


def block_owner(b: int, n_proc: int) -> int:
    """Process that evaluates block ``b``: blocks are dealt round-robin."""
    return b % n_proc


def shard_blocks(items: Sequence, block: int, r: int | None = None, n: int | None = None) -> list:
    """This process's items: blocks of ``block`` consecutive items, block b to process b mod N.

    Every block keeps the composition it has in one process, so batched computations (padding,
    batch shapes) and hence their numbers are the same in any number of processes.
    """
    r = rank() if r is None else r
    n = world() if n is None else n
    return [x for i, x in enumerate(items) if block_owner(i // block, n) == r]


def gather_blocks(part: list, block: int, total: int) -> list:
    """All processes' :func:`shard_blocks` results (JSON-able), in the original item order."""
    parts = gather_json(part)
    return merge_blocks(parts, block, total)


def merge_blocks(parts: list[list], block: int, total: int) -> list:
    """Inverse of :func:`shard_blocks` over every process's part."""
    its = [iter(p) for p in parts]
    return [next(its[block_owner(i // block, len(parts))]) for i in range(total)]
