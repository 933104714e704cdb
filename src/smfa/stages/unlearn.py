"""Stage ``smfa unlearn METHOD``: run one registered unlearning method on the original model.

The method's settings come from a YAML file (``train:`` a TrainConfig, ``options:`` the
method's own ``Options`` dataclass, ``retain_few:``), overridden by the command line; they are
validated once, here, by building those dataclasses. On the command line every registered
method is a sub-command whose flags are its options (``smfa unlearn smfa ... --k 5``),
generated from the ``Options`` dataclass by :func:`method_commands`.
"""

from __future__ import annotations

import dataclasses
import inspect
import shutil
import typing
from pathlib import Path

from smfa import __version__, dist
from smfa.config import Real, TrainConfig, from_dict, to_dict
from smfa.errors import SmfaError
from smfa.io import (
    check_no_pickle,
    check_output,
    output_lock,
    read_yaml,
    staged_dir,
    write_json,
    write_yaml,
)
from smfa.paths import shipped_config
from smfa.progress import say
from smfa.registry import METHODS
from smfa.runtime import DTYPES, resolve_device, work_dir_for
from smfa.splits import check_forget

CONFIG_SECTIONS = ("train", "options", "retain_few", "dtype")
TRAIN_FLAGS = ("full_finetune", "max_steps", "seed")


def is_tiny(original: Path) -> bool:
    """Whether ``original`` was trained from the built-in tiny model (its ``config.yaml``)."""
    cfg = Path(original) / "config.yaml"
    return cfg.is_file() and (read_yaml(cfg) or {}).get("model") == "tiny"


def default_config_path(method: str, tiny: bool) -> Path:
    """The tuned tiny-model config for the tiny model, else the paper's defaults."""
    if tiny:
        p = shipped_config("unlearn", "tiny", f"{method}.yaml")
        return p if p.is_file() else shipped_config("unlearn", "tiny", "default.yaml")
    return shipped_config("unlearn", "paper.yaml")


@dataclasses.dataclass
class MethodSettings:
    """A method's resolved settings: training, its options, D_r^few size and where they came
    from."""

    train: TrainConfig
    options: object
    retain_few: int | None
    config_file: Path
    dtype: str | None = None


def resolve_settings(
    method: str,
    tiny: bool,
    config: str | None = None,
    options: dict | None = None,
    train: dict | None = None,
    retain_few: int | None = None,
) -> MethodSettings:
    """Settings from the YAML (default: :func:`default_config_path`) plus overrides.

    ``options`` override the file's ``options:``, ``train`` its ``train:`` fields (``None``
    values are ignored). Raises :class:`SmfaError` naming the file and field.
    """
    cls = METHODS.get(method)
    path = Path(config) if config else default_config_path(method, tiny)
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise SmfaError(f"{path}: expected a mapping with {', '.join(CONFIG_SECTIONS)}")
    unknown = sorted(set(data) - set(CONFIG_SECTIONS))
    if unknown:
        raise SmfaError(
            f"{path}: unknown field '{unknown[0]}' (known: {', '.join(CONFIG_SECTIONS)})"
        )
    t, o = data.get("train") or {}, data.get("options") or {}
    try:  # the file alone: its errors name the file
        tcfg = from_dict(TrainConfig, t, "train")
        ocfg = from_dict(cls.Options, o, f"options of {method}")
    except (TypeError, ValueError) as e:
        raise SmfaError(f"{path}: {e}") from None
    t_over = {k: v for k, v in (train or {}).items() if v is not None}
    o_over = {k: v for k, v in (options or {}).items() if v is not None}
    try:  # then the overrides (flags, run config): their errors name the option
        if t_over:
            tcfg = from_dict(TrainConfig, {**t, **t_over}, "train")
        if o_over:
            ocfg = from_dict(cls.Options, {**o, **o_over}, f"options of {method}")
    except (TypeError, ValueError) as e:
        raise SmfaError(f"option {e}") from None
    rf = retain_few if retain_few is not None else data.get("retain_few")
    dtype = data.get("dtype")
    if dtype is not None and dtype not in DTYPES:
        raise SmfaError(f"{path}: dtype={dtype!r}: one of {', '.join(DTYPES)}")
    return MethodSettings(tcfg, ocfg, rf, path, dtype)


def reusable_adapters(method: str, m, adapters_from: str) -> dict[str, Path]:
    """``{tag: folder}`` of the trained adapters ``m`` reuses from ``adapters_from``."""
    src = Path(adapters_from)
    if not src.is_dir():
        raise SmfaError(f"--adapters_from {src}: folder not found")
    need = m.reuses()
    if not need:
        raise SmfaError(f"--adapters_from {src}: method '{method}' cannot reuse trained adapters")
    found = {tag: src / "adapters" / tag for tag in need}
    for tag, folder in found.items():
        lora = (folder / "adapter_config.json").is_file()
        dense = (folder / "delta.safetensors").is_file()  # full fine-tuning (smfa)
        if dense and not lora and not m.reads_dense:
            raise SmfaError(
                f"{folder}: adapter '{tag}' is a full fine-tuning delta; method '{method}' "
                "reuses LoRA adapters only (train it with LoRA or without --adapters_from)"
            )
        if not lora and not dense:
            raise SmfaError(
                f"{folder}: adapter '{tag}' not found (method '{method}' reuses {', '.join(need)})"
            )
    return found


def unlearn(
    method: str,
    original: str,
    bench: str,
    out: str,
    forget: str = "forget10",
    method_config: str | None = None,
    options: dict | None = None,
    seed: int | None = None,
    retain_few: int | None = None,
    full_finetune: bool | None = None,
    max_steps: int | None = None,
    merge: bool = False,
    adapters_from: str | None = None,
    device: str = "auto",
    dtype: str | None = None,
    overwrite: bool = False,
    allow_pickle: bool = False,
) -> Path:
    """Unlearn the forget split from the original model with one method.

    Writes ``delta.safetensors`` (ΔW per base weight: W = W_o + ΔW), the trained peft adapters
    under ``adapters/``, ``mask_stats.json`` (smfa), ``config.yaml`` and ``summary.json``.

    Args:
        method: a registered method (``smfa unlearn --help`` lists them).
        original: the original model folder (``smfa train``).
        bench: benchmark folder.
        out: output folder.
        forget: forget05, forget10 or forget15.
        method_config: YAML with ``train:`` (TrainConfig), ``options:`` (the method's
            options), ``retain_few:`` and ``dtype:``; default: the tuned tiny config for the
            tiny model, else the paper's settings.
        options: the method's options, overriding the config's, e.g. ``{"k": 2.0}``.
        seed: overrides ``train.seed`` (the seed of every random choice).
        retain_few: number of retain profiles in D_r^few (default: the bench's retain_few).
        full_finetune: train all weights instead of LoRA.
        max_steps: overrides the number of training steps.
        merge: also write the merged model (``save_pretrained``) to ``out/merged``.
        adapters_from: an earlier output folder whose ``adapters/`` hold the trained adapters
            this method reuses (no training): smfa (mfa, anchor), idk (mfa), ties (mfa, anchor).
        device: auto, cpu, cuda, cuda:N.
        dtype: float32, bfloat16 or float16 (default: the config's ``dtype``, else float32).
        overwrite: replace an existing ``out`` that is not an earlier ``smfa unlearn`` output.
        allow_pickle: accept pickle weights of a trusted original model (weights-only).
    """
    from smfa.adapters import check_delta_matches, mask_stats_file, write_delta, write_merged
    from smfa.bench import load_valid as load_bench
    from smfa.data import forget_rows
    from smfa.methods.base import UnlearnContext

    check_forget(forget)
    orig = Path(original)
    if not (orig / "config.json").is_file():
        raise SmfaError(f"{orig}: original model folder not found (no config.json)")
    check_no_pickle(orig, allow_pickle)
    inputs = [original, bench, adapters_from, method_config]
    out = check_output(Path(out), "unlearn", overwrite, inputs)
    with dist.main_only(output_lock(out)):  # accelerate launch: the main process writes
        train = {"full_finetune": full_finetune, "max_steps": max_steps, "seed": seed}
        s = resolve_settings(method, is_tiny(orig), method_config, options, train, retain_few)
        m = METHODS.get(method)(s.options)
        dtype = dtype or s.dtype or "float32"
        reuse = reusable_adapters(method, m, adapters_from) if adapters_from is not None else None
        b = load_bench(bench)
        if not forget_rows(b, forget):
            raise SmfaError(f"{b.root / 'data' / forget}.jsonl: no memory questions to forget")
        work = work_dir_for(out)
        ctx = UnlearnContext(
            bench=b,
            forget=forget,
            original=orig,
            work=work,
            train=s.train,
            retain_few=s.retain_few,
            device=resolve_device(device),
            dtype=dtype,
            allow_pickle=allow_pickle,
        )
        say(f"[unlearn] {method} on {forget} ({'full' if s.train.full_finetune else 'LoRA'})")
        try:
            result = m.from_trained(reuse, ctx) if reuse is not None else m.run(ctx)
        except ValueError as e:
            raise SmfaError(f"{method}: {e}") from None
        check_delta_matches(result.delta, orig, source=f"{method} ({adapters_from or 'trained'})")
        resolved = {
            "method": method,
            "original": str(orig.resolve()),
            "bench": str(Path(bench).resolve()),
            "forget": forget,
            "retain_few": s.retain_few,
            "train": to_dict(s.train),
            "options": dataclasses.asdict(s.options),
            "config_file": str(s.config_file),
            "adapters_from": str(Path(adapters_from).resolve()) if adapters_from else None,
            "smfa_version": __version__,
        }
        dist.barrier()
        if not dist.is_main():
            dist.barrier()  # until the main process has written out
            return out
        try:  # the other processes wait at the barrier below, also when this fails
            with staged_dir(out, "unlearn", overwrite, inputs) as tmp:
                write_delta(tmp, result.delta, method)
                for tag, adir in result.adapters.items():
                    shutil.copytree(adir, tmp / "adapters" / tag)
                    log = adir.parent / "train_log.jsonl"
                    if log.is_file():
                        shutil.copy(log, tmp / "adapters" / tag / "train_log.jsonl")
                stats = result.info.pop("mask_stats", None)
                if stats is not None:
                    mask_stats_file(tmp, stats)
                write_json(tmp / "summary.json", result.info)
                write_yaml(tmp / "config.yaml", resolved)
                if merge:
                    write_merged(orig, result.delta, tmp / "merged", dtype)
            shutil.rmtree(work, ignore_errors=True)
            say(f"[unlearn] wrote {out}")
        finally:
            dist.barrier()
        return out


# -- the command line: one sub-command per registered method ---------------------------------

_HINTS = typing.get_type_hints(unlearn)
_COMMON = [
    p.replace(annotation=_HINTS[p.name])
    for p in inspect.signature(unlearn).parameters.values()
    if p.name not in ("method", "options")
]


def _option_docs(cls) -> dict[str, str]:
    """``{field: description}`` from the ``Attributes:`` lines of an Options docstring."""
    import re

    docs: dict[str, str] = {}
    name = None
    for line in (cls.__doc__ or "").split("Attributes:", 1)[-1].splitlines():
        m = re.match(r"\s*(\w+):\s*(.*)", line)
        if m and m.group(1) in {f.name for f in dataclasses.fields(cls)}:
            name = m.group(1)
            docs[name] = m.group(2).strip()
        elif name and line.strip():
            docs[name] += " " + line.strip()
    return docs


def _args_doc(names: list[str]) -> list[str]:
    from docstring_parser import parse

    docs = {p.arg_name: p.description for p in parse(unlearn.__doc__ or "").params}
    return [f"    {n}: {' '.join((docs.get(n) or '').split())}" for n in names]


def method_command(name: str):
    """``smfa unlearn NAME``: :func:`unlearn` with the method's options as flags."""
    cls = METHODS.get(name)
    fields = dataclasses.fields(cls.Options)
    hints = typing.get_type_hints(cls.Options)
    docs = _option_docs(cls.Options)
    params = list(_COMMON)
    opt_lines = []
    for f in fields:
        default = f.default if f.default is not dataclasses.MISSING else None
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=(Real if hints[f.name] is float else hints[f.name]) | None,
            )
        )
        opt_lines.append(
            f"    {f.name}: {docs.get(f.name, '')} (method option; default: the method "
            f"config's, else {default!r})"
        )

    def command(*args, **kwargs):
        opts = {f.name: kwargs.pop(f.name) for f in fields if f.name in kwargs}
        bound = inspect.Signature(_COMMON).bind(*args, **kwargs)
        return unlearn(name, options=opts, **bound.arguments)

    first = (inspect.getdoc(cls) or name).splitlines()[0]
    command.__name__ = name
    command.__signature__ = inspect.Signature(params)
    command.__doc__ = "\n".join(
        [
            f"{first}",
            "",
            "Writes the method's delta, adapters and config (see smfa unlearn).",
            "",
            "Args:",
            *_args_doc([p.name for p in _COMMON]),
            *opt_lines,
            "",
        ]
    )
    return command


def method_commands() -> dict:
    """``{method: command}`` for every registered method (``smfa unlearn METHOD``)."""
    return {name: method_command(name) for name in METHODS.names()}
