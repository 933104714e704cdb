"""Stages ``smfa export`` and ``smfa verify``: hand over an unlearned model with a record of
what was done (docs/export.md).

``export`` writes a folder that ``peft`` (``--adapter``: the sculpted update as a LoRA) or
``transformers`` (``--merged``: ``W_o + ΔW'`` saved with ``save_pretrained``) loads directly,
a model card ``README.md`` and ``certificate.json`` (sha256 of every exported file, of the
base model, the method's adapters, delta and config; the forgotten profile ids; seed;
versions; forgetting, utility and attack figures). ``verify`` recomputes those hashes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from smfa.errors import SmfaError
from smfa.io import (
    MARKER,
    check_output,
    output_lock,
    read_json,
    read_yaml,
    sha256_file,
    staged_dir,
    write_json,
)
from smfa.progress import say

CERTIFICATE = "certificate.json"
DTYPES = ("float32", "float16", "bfloat16")
#: Relative SVD error above which the card and the console call the adapter approximate.
SVD_WARN = 1e-3
FORMAT = "smfa-certificate"
#: Figures copied from the eval JSON's ``summary.main.<score>`` into the certificate.
FORGETTING = ("forget_mem", "forget_und")
UTILITY = ("retain_mem", "retain_und", "overall_und", "overall_mem", "scenes", "model_utility")


def _file_hashes(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """``{relative path: sha256}`` of every file below ``root`` (dot files and ``skip`` out)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel not in skip and not any(s.startswith(".") for s in rel.split("/")):
            out[rel] = sha256_file(p)
    return out


def resolve_source(source: str | Path, method: str = "smfa") -> tuple[Path, Path | None]:
    """``(method folder, run folder or None)`` of a method output or a run folder."""
    p = Path(source)
    if (p / "delta.safetensors").is_file() and (p / "config.yaml").is_file():
        run = p.parent.parent
        # runs/<name>/methods/<label>, or runs/<name>/seed_<s>/methods/<label>
        in_run = p.parent.name == "methods" and (run / "eval").is_dir()
        return p, run if in_run else None
    if (p / "methods" / method / "delta.safetensors").is_file():
        return p / "methods" / method, p
    raise SmfaError(
        f"{p}: neither a method folder (delta.safetensors + config.yaml) nor a run folder "
        f"with methods/{method}/ (choose the method with --method)"
    )


def _figures(run: Path | None, label: str) -> dict:
    """Forgetting, utility and attack figures of the method, from the run's result files."""
    out: dict = {"forgetting": None, "utility": None, "attacks": None}
    if run is None:
        return out
    ev = run / "eval" / f"{label}.json"
    if ev.is_file():
        summary = read_json(ev).get("summary", {})
        main = summary.get("main", {})
        out["forgetting"] = {
            score: {k: v.get(k) for k in FORGETTING} for score, v in main.items()
        } | {"forget_quality": summary.get("forget_quality")}
        out["utility"] = {score: {k: v.get(k) for k in UTILITY} for score, v in main.items()}
        out["utility"]["meaningful"] = next(iter(main.values()), {}).get("meaningful")
        out["eval_file"] = str(ev.resolve())
    at = run / "attacks" / f"{label}.json"
    if at.is_file():
        data = read_json(at)
        out["attacks"] = data.get("summary", data) if isinstance(data, dict) else None
        out["attacks_file"] = str(at.resolve())
    return out


def _forgotten(bench: Path, forget: str) -> dict:
    """The forgotten split: profile ids and counts (no names: the certificate is shareable)."""
    from smfa.bench import load

    b = load(bench)
    rows = b.split(forget)
    ids = sorted({r["subject_id"] for r in rows})
    retain = {r["subject_id"] for r in b.split("retain")}
    return {
        "split": forget,
        "profile_ids": ids,
        "profiles": len(ids),
        "questions": len(rows),
        "retain_profiles": len(retain),
        "bench": str(bench.resolve()),
        "bench_manifest_sha256": sha256_file(bench / "manifest.json"),
    }


def _adapter_dirs(method_dir: Path, reused: Path | None) -> list[Path]:
    """The method's adapter folders: its own, else those it reused (``adapters_from``)."""
    own = sorted(c.parent for c in (method_dir / "adapters").glob("*/adapter_config.json"))
    if own or reused is None:
        return own
    return sorted(c.parent for c in (reused / "adapters").glob("*/adapter_config.json"))


def _check_lora_exportable(method_dir: Path, delta: dict) -> None:
    """A LoRA re-factoring covers 2-D linear weights only: a delta that also changes biases,
    norms or embeddings (full fine-tuning, neuron pruning with biases) is exported merged."""
    for key, value in delta.items():
        if value.dim() != 2 or not key.endswith(".weight") or "embed" in key or "lm_head" in key:
            raise SmfaError(
                f"{method_dir / 'delta.safetensors'}: layer '{key}' cannot be a LoRA layer "
                "(not a 2-D linear weight); export this update with --merged"
            )


def _own_adapter(adapter_dirs: list[Path], delta: dict) -> Path | None:
    """The adapter folder whose ΔW is the method's whole update, if there is one."""
    import torch

    from smfa.adapters import adapter_deltas

    for cfg in (d / "adapter_config.json" for d in adapter_dirs):
        try:
            mine = adapter_deltas(cfg.parent)
        except SmfaError:
            continue
        if set(mine) == set(delta) and all(
            torch.allclose(mine[k], delta[k].float(), rtol=1e-5, atol=1e-7) for k in delta
        ):
            return cfg.parent
    return None


def _set_base_path(config: Path, original: Path) -> None:
    cfg = json.loads(config.read_text())
    cfg["base_model_name_or_path"] = str(original.resolve())
    config.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def _base_dtype(original: Path) -> str:
    """The dtype the base model was saved in (config.json), else float32."""
    cfg = json.loads((original / "config.json").read_text())
    d = cfg.get("dtype") or cfg.get("torch_dtype") or (cfg.get("text_config") or {}).get("dtype")
    return d if d in DTYPES else "float32"


def _adapter_rank(adapter_dirs: list[Path]) -> int:
    ranks = []
    for cfg in (d / "adapter_config.json" for d in adapter_dirs):
        r = json.loads(cfg.read_text()).get("r")
        if isinstance(r, int):
            ranks.append(r)
    return max(ranks, default=16)


def export(
    source: str,
    out: str,
    merged: bool = False,
    adapter: bool = False,
    method: str = "smfa",
    rank: int | None = None,
    dtype: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Export an unlearned model with a model card and an unlearning certificate.

    ``--adapter`` (default) writes the method's update as a peft LoRA folder (for SMFA the
    sculpted delta re-factored by truncated SVD; its reconstruction error is recorded);
    ``--merged`` writes base + update with ``save_pretrained`` (safetensors). Both get
    ``README.md`` (what was forgotten and how well) and ``certificate.json`` (sha256 of every
    file, the base model, adapters, delta and config; forgotten ids; seed; versions; figures);
    check it later with ``smfa verify OUT``.

    Args:
        source: a method folder (``smfa unlearn`` output, ``runs/<name>/methods/<label>``) or
            a run folder (then ``--method`` picks the label).
        out: folder to write.
        merged: write the merged model (loads with ``AutoModelForImageTextToText``).
        adapter: write a peft adapter (loads with ``PeftModel.from_pretrained``); the default.
        method: method label inside a run folder.
        rank: LoRA rank of the re-factored adapter (default: ship the method's own adapter
            when it is the whole update, else re-factor at the method's LoRA rank; a rank >= a
            layer's smaller side reproduces it exactly).
        dtype: weights of the merged model: float32, float16 or bfloat16 (default: the base
            model's ``dtype`` in its config.json, else float32; the merge math is float32).
        overwrite: replace an existing folder that is not an earlier ``smfa export`` output.
    """
    from smfa import __version__
    from smfa.adapters import write_lora_adapter, write_merged
    from smfa.io import load_safetensors
    from smfa.provenance import git_hash, versions

    if merged and adapter:
        raise SmfaError("export: choose one of --merged and --adapter")
    kind = "merged" if merged else "adapter"
    if dtype not in (None, *DTYPES):
        raise SmfaError(f"export: --dtype {dtype}: one of {', '.join(DTYPES)}")
    if rank is not None and rank < 1:
        raise SmfaError(f"export: --rank must be >= 1, got {rank}")
    method_dir, run = resolve_source(source, method)
    cfg = read_yaml(method_dir / "config.yaml") or {}
    original = Path(str(cfg.get("original") or ""))
    if not (original / "config.json").is_file():
        raise SmfaError(
            f"{method_dir / 'config.yaml'}: field 'original': model {original} not found"
        )
    bench = Path(str(cfg.get("bench") or ""))
    if not (bench / "manifest.json").is_file():
        raise SmfaError(f"{method_dir / 'config.yaml'}: field 'bench': benchmark {bench} not found")
    reused = Path(cfg["adapters_from"]) if cfg.get("adapters_from") else None
    if reused is not None and not reused.is_dir():
        where = method_dir / "config.yaml"
        raise SmfaError(f"{where}: field 'adapters_from': folder {reused} not found")
    adapter_dirs = _adapter_dirs(method_dir, reused)
    inputs = [method_dir, original, bench, reused]
    check_output(out, "export", overwrite, inputs)
    with output_lock(out):
        delta = load_safetensors(method_dir / "delta.safetensors")
        sources = _file_hashes(method_dir, skip=(MARKER,))
        base = _file_hashes(original, skip=(MARKER,))
        with staged_dir(out, "export", overwrite, inputs) as tmp:
            svd, own = None, None
            if kind == "adapter" and rank is None:
                own = _own_adapter(adapter_dirs, delta)
            if own is not None:  # the method's update is one of its adapters: ship that one
                for name in ("adapter_config.json", "adapter_model.safetensors"):
                    shutil.copy(own / name, tmp / name)
                _set_base_path(tmp / "adapter_config.json", original)
            elif kind == "adapter":
                _check_lora_exportable(method_dir, delta)
                r = rank or _adapter_rank(adapter_dirs)
                errors = write_lora_adapter(
                    tmp / ".lora", delta, r, base_model_name_or_path=str(original.resolve())
                )
                for f in (tmp / ".lora").iterdir():
                    shutil.move(str(f), tmp / f.name)
                (tmp / ".lora").rmdir()
                svd = {"rank": r, "max_relative_error": max(errors.values(), default=0.0)}
                if svd["max_relative_error"] > SVD_WARN:
                    say(
                        f"[export] rank-{r} LoRA differs from the update by up to "
                        f"{svd['max_relative_error']:.1%} (relative); --merged or a higher "
                        "--rank gives an exact copy"
                    )
            else:
                dtype = dtype or _base_dtype(original)
                write_merged(original, delta, tmp, dtype)
            figures = _figures(run, method_dir.name)
            options = cfg.get("options") or {}
            cert = {
                "format": FORMAT,
                "version": 1,
                "kind": kind,
                "method": cfg.get("method"),
                "label": method_dir.name,
                "options": options,
                "k": options.get("k"),
                "seed": (cfg.get("train") or {}).get("seed"),
                "forgotten": _forgotten(bench, str(cfg.get("forget"))),
                "base_model": {"path": str(original.resolve()), "files": base},
                "method_dir": {"path": str(method_dir.resolve()), "files": sources},
                "adapters_from": (
                    {"path": str(reused.resolve()), "files": _file_hashes(reused, (MARKER,))}
                    if reused is not None
                    else None
                ),
                "svd": svd,
                "adapter_from": str(own.resolve()) if own else None,
                "dtype": dtype if kind == "merged" else None,
                "figures": figures,
                "versions": versions(),
                "smfa_version": __version__,
                "git": git_hash(),
            }
            (tmp / "README.md").write_text(card(cert), encoding="utf-8")
            cert["files"] = _file_hashes(tmp, skip=(CERTIFICATE, MARKER))
            write_json(tmp / CERTIFICATE, cert)
        return Path(out)


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def card(cert: dict) -> str:
    """The model card: what was forgotten, how, and how well (from the certificate)."""
    f, fig = cert["forgotten"], cert["figures"]
    lib = "peft" if cert["kind"] == "adapter" else "transformers"
    lines = [
        "---",
        f"library_name: {lib}",
        f"base_model: {cert['base_model']['path']}",
        "tags: [machine-unlearning, smfa]",
        "---",
        "",
        f"# Unlearned model: {cert['label']} ({cert['kind']})",
        "",
        f"Produced by `smfa export` (smfa {cert['smfa_version']}) from "
        f"`{cert['method_dir']['path']}`.",
        "",
        "## What was forgotten",
        "",
        f"- split `{f['split']}` of the benchmark `{f['bench']}`: {f['profiles']} profiles, "
        f"{f['questions']} questions (ids in `certificate.json`); {f['retain_profiles']} "
        "retain profiles were kept",
        f"- method `{cert['method']}`, options `{json.dumps(cert['options'], sort_keys=True)}`"
        + (f", k = {cert['k']}" if cert["k"] is not None else ""),
        f"- seed {cert['seed']}",
    ]
    if cert.get("adapter_from"):
        lines.append(f"- adapter: the method's LoRA `{cert['adapter_from']}`, unchanged")
    if cert["svd"]:
        err = cert["svd"]["max_relative_error"]
        lines.append(
            f"- adapter: the update as a LoRA of rank {cert['svd']['rank']} (truncated SVD, "
            f"max relative error {err:.2e})"
            + (
                "; **approximate**: the evaluated model is W_o + ΔW' exactly (export with "
                "--merged, or a higher --rank, for an exact copy)"
                if err > SVD_WARN
                else ""
            )
        )
    lines += ["", "## How well", ""]
    if fig["forgetting"]:
        lines += ["| score | forget memory | retain memory | understanding | utility |"]
        lines += ["|---|---|---|---|---|"]
        for score, v in fig["utility"].items():
            if not isinstance(v, dict):
                continue
            fm = fig["forgetting"].get(score, {}).get("forget_mem")
            lines.append(
                f"| {score} | {_fmt(fm)} | {_fmt(v.get('retain_mem'))} | "
                f"{_fmt(v.get('overall_und'))} | {_fmt(v.get('model_utility'))} |"
            )
        lines += ["", f"Forget quality (KS p-value): {_fmt(fig['forgetting']['forget_quality'])}."]
    else:
        lines.append("No evaluation found next to the method (export a run's method to get one).")
    lines += ["", "## Attacks", ""]
    if fig["attacks"]:
        lines.append(f"```json\n{json.dumps(fig['attacks'], indent=1, sort_keys=True)[:4000]}\n```")
    else:
        lines.append("No attack results were found for this method.")
    load = (
        "from peft import PeftModel\nfrom transformers import AutoModelForImageTextToText\n"
        f'base = AutoModelForImageTextToText.from_pretrained("{cert["base_model"]["path"]}")\n'
        'model = PeftModel.from_pretrained(base, "THIS_FOLDER")'
        if cert["kind"] == "adapter"
        else "from transformers import AutoModelForImageTextToText, AutoProcessor\n"
        'model = AutoModelForImageTextToText.from_pretrained("THIS_FOLDER")'
    )
    lines += [
        "",
        "## Use and check",
        "",
        f"```python\n{load}\n```",
        "",
        "`smfa verify THIS_FOLDER` recomputes every hash of `certificate.json`.",
        "",
    ]
    return "\n".join(lines)


def verify(path: str, sources: bool = True) -> str:
    """Check an exported folder against its ``certificate.json``.

    Recomputes the sha256 of every file of the folder (a missing, changed or extra file is a
    mismatch) and, when they are still on disk, of the base model and the method's files.
    Exit 0 when everything matches; exit 2 naming the first mismatching file.

    Args:
        path: folder written by ``smfa export``.
        sources: also check the base model and the method folder named in the certificate.
    """
    root = Path(path)
    cert_file = root / CERTIFICATE
    if not cert_file.is_file():
        raise SmfaError(f"{cert_file}: not found (not an smfa export folder)")
    try:
        cert = json.loads(cert_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise SmfaError(f"{cert_file}: invalid JSON") from None
    if not isinstance(cert, dict) or cert.get("format") != FORMAT:
        raise SmfaError(f"{cert_file}: field 'format' is not {FORMAT!r}")
    files = cert.get("files")
    if not isinstance(files, dict):
        raise SmfaError(f"{cert_file}: field 'files' is missing")
    _compare(root, files, _file_hashes(root, skip=(CERTIFICATE, MARKER)), "")
    checked = [f"{len(files)} files"]
    if sources:
        for field in ("base_model", "method_dir", "adapters_from"):
            entry = cert.get(field)
            if entry is None and field == "adapters_from":
                continue
            entry = entry or {}
            where = Path(str(entry.get("path") or ""))
            if where.is_dir():
                _compare(where, entry.get("files") or {}, _file_hashes(where, (MARKER,)), field)
                checked.append(f"{field} ({len(entry.get('files') or {})} files)")
            else:
                checked.append(f"{field} not checked ({where} not found)")
    return f"{root}: ok, matches {CERTIFICATE}: " + ", ".join(checked)


def _compare(root: Path, want: dict, have: dict, what: str) -> None:
    label = f"{what}: " if what else ""
    for rel in sorted(set(want) | set(have)):
        if rel not in have:
            raise SmfaError(f"{label}{root / rel}: file listed in {CERTIFICATE} is missing")
        if rel not in want:
            raise SmfaError(f"{label}{root / rel}: file is not listed in {CERTIFICATE}")
        if have[rel] != want[rel]:
            raise SmfaError(f"{label}{root / rel}: sha256 does not match {CERTIFICATE}")
