"""The one training loop, used by every stage (original model, retain-only, every adapter).

Built on ``accelerate`` so that the same code runs on one CPU, one GPU or many GPUs
(``accelerate launch -m smfa ...``: each process takes its slice of every global batch and DDP
averages the gradients). The data order is a pure function of (seed, step), so a run killed at
any point resumes from its last checkpoint and finishes with the same weights it would have had.

Checkpoints hold only safetensors (trainable weights, AdamW moments) and JSON (step, settings);
nothing is ever unpickled.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from smfa.config import LoraSettings, TrainConfig, to_dict
from smfa.data import ImageCache, Sample
from smfa.io import load_safetensors, save_safetensors, sha256_bytes, staged_dir, write_json
from smfa.losses import nll_loss
from smfa.models.forward import answer_logits
from smfa.progress import bar

# Every attention / MLP projection of the language model; vision towers and projectors excluded.
LANGUAGE_TARGET = (
    r"^(?!.*(vision|visual|image|multi_modal_projector|connector|mm_projector)).*"
    r"\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)$"
)

LossFn = Callable[[torch.nn.Module, dict[str, dict]], tuple[torch.Tensor, dict[str, float]]]


def lora_target_regex(target: str) -> str:
    """The peft ``target_modules`` regex for a LoraSettings.target value."""
    return LANGUAGE_TARGET if target == "language" else target


def add_lora(model: torch.nn.Module, lora: LoraSettings, seed: int):
    """Wrap ``model`` in place with a fresh LoRA adapter (peft); returns the PeftModel."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    cfg = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora_target_regex(lora.target),
        bias="none",
    )
    return get_peft_model(model, cfg)


def group_by_length(
    perm: list[int], lengths: Sequence[int], batch_size: int, rng: random.Random, chunk: int = 16
) -> list[int]:
    """Reorder ``perm`` so that each batch holds samples of similar length (less padding).

    ``perm`` is cut into chunks of ``chunk`` batches; each chunk is sorted by length (longest
    first, stable) and cut into batches; the batches of the epoch are then shuffled with
    ``rng``. Every index of ``perm`` appears once; batches stay random in content and order.
    """
    size = batch_size * chunk
    batches = []
    for i in range(0, len(perm), size):
        part = sorted(perm[i : i + size], key=lambda j: -lengths[j])
        batches += [part[k : k + batch_size] for k in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return [j for b in batches for j in b]


class StreamOrder:
    """Seeded, resumable order over one data stream: epoch e uses permutation(seed, e).

    With ``lengths`` (token count per sample) each epoch's permutation is regrouped by
    :func:`group_by_length` into batches of ``batch_size`` samples of similar length.
    """

    def __init__(
        self, n: int, seed: int, lengths: Sequence[int] | None = None, batch_size: int = 1
    ):
        self.n, self.seed, self._perms = n, seed, {}
        self.lengths, self.batch_size = lengths, batch_size

    def indices(self, start: int, count: int) -> list[int]:
        out = []
        for p in range(start, start + count):
            epoch, off = divmod(p, self.n)
            if epoch not in self._perms:
                perm = list(range(self.n))
                rng = random.Random(self.seed * 100_003 + epoch)
                rng.shuffle(perm)
                if self.lengths is not None:
                    perm = group_by_length(perm, self.lengths, self.batch_size, rng)
                self._perms[epoch] = perm
            out.append(self._perms[epoch][off])
        return out


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Learning rate of optimizer step ``step`` (0-based): linear warm-up, then the schedule."""
    warm = int(cfg.warmup_ratio * total)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "constant":
        return cfg.lr
    frac = (step - warm) / max(1, total - warm)
    if cfg.schedule == "linear":
        return cfg.lr * (1.0 - frac)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * frac))


def param_groups(model: torch.nn.Module, lr_scale: dict[str, float]) -> list[dict]:
    """Trainable parameters grouped by learning-rate multiplier (``TrainConfig.lr_scale``).

    A parameter takes the value of the first key its name contains, else 1. Parameters with
    multiplier 0 are frozen (``requires_grad`` off) and left out. Groups keep model order.
    """
    scales: dict[float, list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        scale = next((float(v) for k, v in lr_scale.items() if k in name), 1.0)
        if scale == 0:
            p.requires_grad_(False)
            continue
        scales.setdefault(scale, []).append(p)
    if not scales:
        raise ValueError("fit: no trainable parameters (lr_scale froze them all?)")
    return [{"params": ps, "lr_scale": s} for s, ps in scales.items()]


def total_steps(n_main: int, cfg: TrainConfig) -> int:
    if cfg.max_steps is not None:
        return cfg.max_steps
    return max(1, math.ceil(cfg.epochs * n_main / cfg.batch_size))


class EncodedCache:
    """Each sample run through the processor once (images and tokens), collated per step."""

    def __init__(self, processor):
        self.processor, self.images, self._enc = processor, ImageCache(), {}

    def encoded(self, s: Sample) -> dict:
        if s not in self._enc:
            from smfa.models.format import encode

            self._enc[s] = encode(self.processor, self.images(s.image), s.question, s.answer)
        return self._enc[s]

    def lengths(self, samples: list[Sample]) -> list[int]:
        """Token count of each sample (encodes every sample once)."""
        return [int(self.encoded(s)["input_ids"].shape[-1]) for s in samples]

    def batch(self, samples: list[Sample]) -> dict:
        from smfa.models.format import collate

        enc = [self.encoded(s) for s in samples]
        return collate(self.processor, enc, padding_side="right")


def _trainable(model) -> dict[str, torch.nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def _save_checkpoint(ckpt: Path, model, optimizer, step: int, fingerprint: str) -> None:
    params = _trainable(model)
    name_of = {id(p): n for n, p in params.items()}
    opt_tensors, groups = {}, []
    for group in optimizer.param_groups:
        groups.append({k: v for k, v in group.items() if k != "params"})
        for p in group["params"]:
            for key, val in optimizer.state.get(p, {}).items():
                t = val if torch.is_tensor(val) else torch.tensor(val)
                opt_tensors[f"{name_of[id(p)]}::{key}"] = t
    with staged_dir(ckpt) as tmp:
        save_safetensors(tmp / "trainable.safetensors", {n: p.data for n, p in params.items()})
        save_safetensors(tmp / "optimizer.safetensors", opt_tensors or {"_": torch.zeros(1)})
        write_json(
            tmp / "state.json", {"step": step, "fingerprint": fingerprint, "param_groups": groups}
        )


def _load_checkpoint(ckpt: Path, model, optimizer, fingerprint: str) -> int:
    state = json.loads((ckpt / "state.json").read_text())
    if state.get("fingerprint") != fingerprint:
        return 0  # settings or data changed: start over
    params = _trainable(model)
    weights = load_safetensors(ckpt / "trainable.safetensors")
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(weights[n].to(p.device, p.dtype))
    opt = load_safetensors(ckpt / "optimizer.safetensors")
    for n, p in params.items():
        st = {k.split("::", 1)[1]: v.to(p.device) for k, v in opt.items() if k.startswith(n + "::")}
        if st:
            optimizer.state[p] = st
    return int(state["step"])


def fingerprint(streams: dict[str, list[Sample]], cfg: TrainConfig, extra: str = "") -> str:
    """Hash of the data and settings: a checkpoint resumes only the run that wrote it."""
    h = json.dumps(
        {
            "cfg": to_dict(cfg),
            "extra": extra,
            "data": {k: [list(s) for s in v] for k, v in sorted(streams.items())},
        },
        sort_keys=True,
        default=str,
    )
    return sha256_bytes(h.encode())


def fit(
    model: torch.nn.Module,
    processor,
    streams: dict[str, list[Sample]],
    loss_fn: LossFn,
    cfg: TrainConfig,
    work_dir: str | Path,
    main: str | None = None,
    desc: str = "train",
    accelerator=None,
    extra_fingerprint: str = "",
) -> tuple[torch.nn.Module, list[dict]]:
    """Train ``model`` in place on ``streams`` with ``loss_fn``; returns (model, log).

    Every step draws ``cfg.batch_size`` samples from each stream; the ``main`` stream (default:
    the first) sets the number of steps per epoch and the others cycle. ``loss_fn(model,
    batches)`` gets the encoded batches by stream name. A resumable checkpoint goes to
    ``work_dir/checkpoint`` every ``cfg.checkpoint_every`` steps and is removed at the end;
    the per-step log goes to ``work_dir/train_log.jsonl``.
    """
    from accelerate import Accelerator, DistributedDataParallelKwargs

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    streams = {k: v for k, v in streams.items() if v}
    if not streams:
        raise ValueError("fit: no training data")
    main = main if main in streams else next(iter(streams))
    total = total_steps(len(streams[main]), cfg)
    # find_unused_parameters: a process whose slice of the batch has no image leaves the
    # vision tower without gradient (DDP then counts it as zero for that process)
    ddp = DistributedDataParallelKwargs(find_unused_parameters=True)
    acc = accelerator or Accelerator(cpu=not torch.cuda.is_available(), kwargs_handlers=[ddp])
    rank, world = acc.process_index, acc.num_processes
    torch.manual_seed(cfg.seed)

    groups = param_groups(model, cfg.lr_scale)
    params = [p for g in groups for p in g["params"]]
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    fp = fingerprint(streams, cfg, extra_fingerprint)
    ckpt = work_dir / "checkpoint"
    start = _load_checkpoint(ckpt, model, optimizer, fp) if ckpt.is_dir() else 0
    ds = getattr(acc.state, "deepspeed_plugin", None)
    if ds is not None:  # no DataLoader is prepared: DeepSpeed needs the per-process batch
        ds.deepspeed_config["train_micro_batch_size_per_gpu"] = max(1, cfg.batch_size // world)
    model, optimizer = acc.prepare(model, optimizer)
    model.train()

    cache = EncodedCache(processor)
    orders = {
        k: StreamOrder(
            len(v),
            cfg.seed + i,
            cache.lengths(v) if cfg.group_by_length else None,
            cfg.batch_size,
        )
        for i, (k, v) in enumerate(streams.items())
    }
    log_path = work_dir / "train_log.jsonl"
    log = _read_log(log_path, start)
    pbar = bar(total=total, desc=desc, unit="step", initial=start)
    for step in range(start, total):
        batches = {}
        for name, data in streams.items():
            idx = orders[name].indices(step * cfg.batch_size, cfg.batch_size)[rank::world]
            encoded = cache.batch([data[i] for i in idx])
            batches[name] = {k: v.to(acc.device) for k, v in encoded.items()}
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, total, cfg) * g["lr_scale"]
        torch.manual_seed(cfg.seed * 1_000_003 + step)  # dropout masks: same on resume
        loss, logs = loss_fn(model, batches)
        acc.backward(loss)
        if cfg.grad_clip:
            acc.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        # several processes: the log shows the mean over their slices, not the main's alone
        shown = acc.reduce(loss.detach(), reduction="mean") if world > 1 else loss.detach()
        entry = {
            "step": step + 1,
            "loss": round(float(shown), 6),
            "lr": lr_at(step, total, cfg),
            **logs,
        }
        log.append(entry)
        pbar.set_postfix(loss=f"{entry['loss']:.4f}")
        pbar.update(1)
        if acc.is_main_process and ((step + 1) % 25 == 0 or step + 1 == total):
            write_json(work_dir / "progress.json", {"step": step + 1, "total": total})
        if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < total:
            if acc.is_main_process:
                _save_checkpoint(ckpt, acc.unwrap_model(model), optimizer, step + 1, fp)
                _write_log(log_path, log)
            acc.wait_for_everyone()
    pbar.close()
    if acc.is_main_process:
        _write_log(log_path, log)
    model = acc.unwrap_model(model)
    model.eval()
    return model, log


def remove_checkpoint(work_dir: str | Path) -> None:
    """Delete ``work_dir/checkpoint`` once the stage's final outputs are written."""
    import shutil

    shutil.rmtree(Path(work_dir) / "checkpoint", ignore_errors=True)


def _read_log(path: Path, upto: int) -> list[dict]:
    if not path.is_file() or upto == 0:
        return []
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [r for r in rows if r["step"] <= upto]


def _write_log(path: Path, log: list[dict]) -> None:
    from smfa.io import write_jsonl

    write_jsonl(path, log)


def nll_loss_fn(stream: str = "train") -> LossFn:
    """Plain next-token cross-entropy on the answer tokens of one stream."""

    def loss_fn(model, batches):
        return nll_loss(*answer_logits(model, batches[stream])), {}

    return loss_fn
