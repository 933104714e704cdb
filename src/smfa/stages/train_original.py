"""Stage ``smfa train``: the "original" model (memorizes every profile) or the retain-only one.

The paper's original model is a base MLLM fine-tuned on the benchmark. ``model="tiny"`` builds
the tiny LLaVA-architecture default from its config (tokenizer from the benchmark's own words)
and fully fine-tunes it; any other value is a local Hugging Face model folder, fine-tuned with
LoRA (merged into the weights at the end) unless the config asks for full fine-tuning.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from smfa import __version__, dist
from smfa.config import TrainConfig, from_dict, to_dict
from smfa.data import original_samples
from smfa.errors import SmfaError
from smfa.io import check_output, output_lock, read_yaml, staged_dir, write_json, write_yaml
from smfa.paths import shipped_config
from smfa.progress import say
from smfa.runtime import resolve_device, resolve_dtype, work_dir_for
from smfa.splits import check_forget
from smfa.train import add_lora, fit, nll_loss_fn


@dataclasses.dataclass
class OriginalConfig:
    """Settings of `smfa train` (the YAML file has two sections, ``model`` and ``train``).

    Attributes:
        model: TinyConfig fields for ``--model tiny`` (ignored for real models).
        train: TrainConfig fields.
        dtype: model dtype (float32, bfloat16, float16) when ``--dtype`` is not given
            (default float32); the shipped 7B-class configs say bfloat16.
    """

    model: dict = dataclasses.field(default_factory=dict)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    dtype: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.train, dict):
            self.train = from_dict(TrainConfig, self.train, "train")
        if self.dtype is not None:
            resolve_dtype(self.dtype)  # ValueError naming the field and the choices


def load_original_config(path: str | None, tiny: bool) -> OriginalConfig:
    """Read a train config YAML (default: the shipped one for tiny or real models)."""
    path = Path(path) if path else shipped_config("train", "tiny.yaml" if tiny else "real.yaml")
    data = read_yaml(path) or {}
    try:
        return from_dict(OriginalConfig, data, "train config")
    except (TypeError, ValueError) as e:
        raise SmfaError(f"{path}: {e}") from None


def corpus_texts(bench) -> list[str]:
    """Every text the tiny tokenizer must cover: questions, answers, refusals, attack prompts."""
    from smfa.prompts import ATTACK_TEXTS

    texts = list(bench.refusals()) + list(ATTACK_TEXTS)
    for split in bench.splits:
        for r in bench.split(split):
            texts += [
                *r["phrasings"],
                *r["paraphrases"],
                r["answer"],
                *r["perturbed"],
                *r["options"],
            ]
    for p in bench.profiles():
        texts.append(p["name"])
    return texts


def train_original(
    bench: str,
    out: str,
    model: str = "tiny",
    exclude: str | None = None,
    train_config: str | None = None,
    seed: int | None = None,
    dtype: str | None = None,
    device: str = "auto",
    overwrite: bool = False,
    allow_pickle: bool = False,
) -> Path:
    """Train the original model on every trained profile, or the retain-only reference.

    Args:
        bench: benchmark folder (``smfa bench build``).
        out: output folder; receives the model (save_pretrained), ``config.yaml`` and
            ``train_log.jsonl``.
        model: ``tiny`` for the built-in tiny model, or a local Hugging Face model folder.
        exclude: a forget split (e.g. ``forget10``) whose profiles are left out: this trains
            the retain-only model, the gold reference for exact unlearning.
        train_config: train config YAML (default: the shipped ``configs/train/tiny.yaml`` or
            ``configs/train/real.yaml``).
        seed: overrides ``train.seed`` of the config.
        dtype: float32, bfloat16 or float16 (default: the config's ``dtype``, else float32).
        device: auto, cpu, cuda, cuda:N.
        overwrite: replace an existing ``out`` that is not an earlier ``smfa train`` output.
        allow_pickle: accept pickle weights (``pytorch_model.bin``) of a trusted base model,
            loaded weights-only.
    """
    from smfa.bench import load_valid as load_bench

    out = Path(out)
    check_output(out, "train", overwrite, inputs=[bench, None if model == "tiny" else model])
    with dist.main_only(output_lock(out)):  # accelerate launch: the main process writes
        b = load_bench(bench)
        if exclude is not None:
            check_forget(exclude, "--exclude")
        is_tiny = model == "tiny"
        cfg = load_original_config(train_config, is_tiny)
        if seed is not None:
            cfg.train = dataclasses.replace(cfg.train, seed=seed)
        dtype = dtype or cfg.dtype or "float32"
        work = work_dir_for(out)
        fresh = not work.exists()
        work.mkdir(parents=True, exist_ok=True)
        try:
            return _train(b, bench, out, work, model, exclude, cfg, dtype, device, allow_pickle)
        except SmfaError:
            if (
                dist.is_main() and fresh and not (work / "checkpoint").exists()
            ):  # nothing to resume: no trace
                shutil.rmtree(work, ignore_errors=True)
            raise


def _train(b, bench, out, work, model, exclude, cfg, dtype, device, allow_pickle) -> Path:
    """Build or load the model, fit it, write ``out`` (see :func:`train_original`)."""
    from smfa.models import load as load_model
    from smfa.models import tiny

    is_tiny = model == "tiny"
    dev, dt = resolve_device(device), resolve_dtype(dtype)

    if is_tiny:
        init = work / "init"
        if dist.is_main() and not (init / "config.json").is_file():
            tcfg = from_dict(tiny.TinyConfig, cfg.model, "model")
            tiny.build(init, corpus_texts(b), tcfg, seed=cfg.train.seed)
        dist.barrier()
        model_path = init
    else:
        model_path = Path(model)
    net, processor = load_model(str(model_path), dtype=dtype, device=dev, allow_pickle=allow_pickle)
    samples = original_samples(b, exclude=exclude)
    if any(s.image for s in samples):
        from smfa.models import require_images

        require_images(net, samples, source=str(bench))
    if not cfg.train.full_finetune:
        net = add_lora(net, cfg.train.lora, cfg.train.seed)
    what = "retain-only" if exclude else "original"
    say(f"[train] {what} model: {len(samples)} samples, {dev}, {dt}")
    net, log = fit(
        net,
        processor,
        {"train": samples},
        nll_loss_fn("train"),
        cfg.train,
        work,
        desc=f"train {what}",
        extra_fingerprint=str(model_path),
    )
    if not cfg.train.full_finetune:
        net = net.merge_and_unload()
    resolved = {
        "bench": str(Path(bench).resolve()),
        "model": model,  # "tiny" or the base model's path (read by `smfa unlearn`)
        "tiny_model": cfg.model if is_tiny else None,
        "train": to_dict(cfg.train),
        "exclude": exclude,
        "dtype": dtype,
        "device": dev,
        "smfa_version": __version__,
    }
    dist.barrier()
    if not dist.is_main():
        dist.barrier()  # until the main process has written out
        return out
    try:  # the other processes wait at the barrier below, also when this fails
        with staged_dir(out, "train", overwrite=True, inputs=[bench]) as tmp:  # checked at start
            net.save_pretrained(tmp, safe_serialization=True)
            processor.save_pretrained(tmp)
            write_yaml(tmp / "config.yaml", resolved)
            write_json(
                tmp / "train_summary.json",
                {
                    "steps": len(log),
                    "samples": len(samples),
                    "final_loss": log[-1]["loss"] if log else None,
                },
            )
            shutil.copy(work / "train_log.jsonl", tmp / "train_log.jsonl")
        shutil.rmtree(work, ignore_errors=True)
        say(f"[train] wrote {out}")
    finally:
        dist.barrier()
    return out
