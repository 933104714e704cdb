"""Every case of docs/errors.md: exit 2, one ``error:`` line that contains the documented text,
no traceback, nothing left behind, nothing of the user's changed.

The cases run the real command line in-process (``smfa.cli.main``) so that 60 cases cost
seconds. The table in docs/errors.md is the list of cases: a row without a case here, or a case
without a row, fails.
"""

from __future__ import annotations

import errno
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from smfa.paths import shipped_config

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


def doc_cases() -> dict[str, str]:
    """``{case id: expected message text}`` from the table of docs/errors.md."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| `([a-z0-9_]+)` \|.*\| (``? ?)(.+?)( ?``?) \|$", line)
        if m:
            rows[m.group(1)] = m.group(3)
    return rows


def tree(*roots: Path) -> dict[str, str]:
    """sha256 of every file under ``roots`` (what must not change)."""
    out = {}
    for root in roots:
        for p in sorted(Path(root).rglob("*")):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def unlearned(tiny_original, small_bench, tmp_path_factory):
    """An smfa output with its mfa and anchor adapters (a few LoRA steps)."""
    from smfa.stages.unlearn import unlearn

    out = tmp_path_factory.mktemp("errs") / "smfa"
    return unlearn(
        "smfa",
        str(tiny_original),
        str(small_bench),
        str(out),
        method_config=str(shipped_config("unlearn", "smoke.yaml")),
    )


class Env:
    """What a case may use: the shared read-only bench/model/adapters and its own folder."""

    def __init__(self, tmp: Path, bench: Path, model: Path, unlearned: Path):
        self.tmp, self.bench, self.model, self.unlearned = tmp, bench, model, unlearned

    def file(self, name: str, text: str) -> Path:
        p = self.tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    def yaml(self, name: str, data) -> Path:
        return self.file(name, yaml.safe_dump(data))

    def bench_copy(self) -> Path:
        dst = self.tmp / "bench_copy"
        shutil.copytree(self.bench, dst)
        return dst

    def run_config(self, **changes) -> Path:
        cfg = yaml.safe_load(shipped_config("run", "smoke.yaml").read_text())
        cfg["train_config"] = str(shipped_config("train", "smoke.yaml"))
        cfg["unlearn_config"] = str(shipped_config("unlearn", "smoke.yaml"))
        cfg.update(changes)
        return self.yaml("run.yaml", cfg)

    def delta(self, tensors: dict) -> Path:
        from safetensors.torch import save_file

        d = self.tmp / "delta_dir"
        d.mkdir(exist_ok=True)
        save_file(tensors, str(d / "delta.safetensors"))
        return d

    def adapter_copy(self, tag: str = "mfa") -> Path:
        dst = self.tmp / f"adapter_{tag}"
        shutil.copytree(self.unlearned / "adapters" / tag, dst)
        return dst


def _nan_adapter(env: Env) -> Path:
    from safetensors.torch import load_file, save_file

    a = env.adapter_copy()
    w = load_file(str(a / "adapter_model.safetensors"))
    key = next(k for k in w if "lora_B" in k)
    w[key][0, 0] = float("nan")
    save_file(w, str(a / "adapter_model.safetensors"))
    return a


def _pickle_adapter(env: Env) -> Path:
    import torch

    a = env.adapter_copy()
    (a / "adapter_model.safetensors").unlink()
    torch.save({"x": torch.zeros(1)}, a / "adapter_model.bin")
    return a


def _pickle_model(env: Env) -> Path:
    import torch

    d = env.tmp / "pickle_model"
    d.mkdir()
    (d / "config.json").write_text('{"model_type": "llava"}')
    torch.save({"w": torch.zeros(1)}, d / "pytorch_model.bin")
    return d


def _truncated_model(env: Env) -> Path:
    d = env.tmp / "truncated_model"
    shutil.copytree(env.model, d)
    w = d / "model.safetensors"
    w.write_bytes(w.read_bytes()[:1000])
    return d


def _truncated_adapter(env: Env) -> Path:
    a = env.adapter_copy()
    w = a / "adapter_model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    return a


def _other_model_adapter(env: Env) -> Path:
    """A LoRA adapter of a different (tiny Llama) model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=32,
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    torch.manual_seed(0)
    d = env.tmp / "other" / "adapters"
    for tag in ("mfa", "anchor"):
        m = get_peft_model(
            LlamaForCausalLM(cfg),
            LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False),
        )
        m.save_pretrained(d / tag)
    return d.parent


def _empty_forget_bench(env: Env) -> Path:
    """A bench whose forget splits hold no question, with a consistent manifest."""
    b = env.bench_copy()
    profiles = [json.loads(x) for x in (b / "profiles.jsonl").read_text().splitlines()]
    for p in profiles:
        p["splits"] = [s for s in p["splits"] if not s.startswith("forget")]
    (b / "profiles.jsonl").write_text("".join(json.dumps(p) + "\n" for p in profiles))
    for name in ("forget05", "forget10", "forget15"):
        (b / "data" / f"{name}.jsonl").write_text("")
    manifest = json.loads((b / "manifest.json").read_text())
    for rel in manifest["files"]:
        manifest["files"][rel] = hashlib.sha256((b / rel).read_bytes()).hexdigest()
    (b / "manifest.json").write_text(json.dumps(manifest))
    return b


def _broken_png_bench(env: Env) -> Path:
    b = env.bench_copy()
    img = next((b / "images" / "faces").glob("*.png"))
    img.write_bytes(img.read_bytes()[:60])
    return b


def _mfa_only(env: Env) -> Path:
    d = env.tmp / "mfa_only"
    shutil.copytree(env.unlearned / "adapters" / "mfa", d / "adapters" / "mfa")
    return d


def _user_notes(env: Env) -> Path:
    d = env.tmp / "notes"
    d.mkdir()
    (d / "my_notes.txt").write_text("mine")
    return d


def _fiubench(env: Env, full: str | None = None, split: str | None = None) -> Path:
    """The hand-written FIUBench fixture (tests/data/fiubench), optionally with a bad file."""
    d = env.tmp / "fiubench"
    shutil.copytree(Path(__file__).parent / "data" / "fiubench", d)
    if full is not None:
        (d / "full.json").write_text(full)
    if split is not None:
        (d / "split.json").write_text(split)
    return d


def _unlearned_without_model(env: Env) -> Path:
    d = env.tmp / "method"
    shutil.copytree(env.unlearned, d)
    cfg = yaml.safe_load((d / "config.yaml").read_text())
    cfg["original"] = str(env.tmp / "gone")
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    return d


def _changed_export(env: Env) -> Path:
    from smfa.stages.export import export

    out = export(str(env.unlearned), str(env.tmp / "exported"))
    w = out / "adapter_model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 1
    w.write_bytes(bytes(data))
    return out


def _full_disk(env: Env, monkeypatch) -> list:
    import smfa.stages.evaluate as ev

    def no_space(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(ev, "write_json", no_space)
    return ["eval", env.model, env.bench, env.tmp / "e.json", "--max_samples", "2"]


def _report_over_user_file(env: Env) -> list:
    run = env.tmp / "run"
    (run / "eval").mkdir(parents=True)
    (run / "eval" / "original.json").write_text(json.dumps({"summary": {"main": {}}}))
    (run / "report.md").write_text("my own notes, not a report")
    return ["report", run]


def _ledger(env: Env, base: Path | None = None) -> Path:
    """An empty independent ledger on ``base`` (default: the shared model)."""
    from smfa.stages.ledger import init

    led = env.tmp / "ledger"
    init(str(base or env.model), str(led), bench=str(env.bench), who="test")
    return led


def _ledger_on_changed_base(env: Env) -> Path:
    """A ledger whose base model changed after ``ledger init`` (its config.json edited)."""
    base = env.tmp / "base_copy"
    shutil.copytree(env.model, base)
    led = _ledger(env, base)
    cfg = base / "config.json"
    cfg.write_text(cfg.read_text() + "\n")
    return led


# id -> argv (a list) or a function (env) -> argv / (env, monkeypatch) -> argv.
CASES = {
    # bench
    "bench_build_into_file": lambda e: ["bench", "build", e.file("f.txt", "x")],
    "bench_build_into_user_folder": lambda e: ["bench", "build", _user_notes(e)],
    "bench_build_too_few_profiles": lambda e: ["bench", "build", e.tmp / "b", "--profiles", "5"],
    "bench_build_bad_image_size": lambda e: ["bench", "build", e.tmp / "b", "--image_size", "8"],
    "bench_build_unknown_domain": lambda e: [
        "bench",
        "build",
        e.tmp / "b",
        "--domains",
        '["cats"]',
    ],
    "bench_validate_missing": lambda e: ["bench", "validate", e.tmp / "nope"],
    "bench_validate_broken_png": lambda e: ["bench", "validate", _broken_png_bench(e)],
    "bench_validate_empty_forget": lambda e: ["bench", "validate", _empty_forget_bench(e)],
    "bench_show_unknown_profile": lambda e: ["bench", "show", e.bench, "--profile", "Nobody"],
    "bench_show_truncated_png": lambda e: [
        "bench",
        "show",
        _broken_png_bench(e),
        "--out",
        e.tmp / "s.png",
    ],
    "bench_show_inside_bench": lambda e: ["bench", "show", e.bench, "--out", e.bench / "s.png"],
    "bench_import_mllmu_not_a_layout": lambda e: ["bench", "import", "mllmu", e.tmp, e.tmp / "o"],
    "bench_import_fiubench_bad_json": lambda e: [
        "bench",
        "import",
        "fiubench",
        _fiubench(e, full="[{"),
        e.tmp / "o",
    ],
    "bench_import_fiubench_no_split": lambda e: [
        "bench",
        "import",
        "fiubench",
        _fiubench(e, split='{"forget1": [], "forget5": []}'),
        e.tmp / "o",
    ],
    "bench_import_into_user_folder": lambda e: [
        "bench",
        "import",
        "fiubench",
        _fiubench(e),
        _user_notes(e),
    ],
    # train
    "train_missing_model": lambda e: ["train", e.bench, e.tmp / "o", "--model", e.tmp / "nope"],
    "train_pickle_model": lambda e: ["train", e.bench, e.tmp / "o", "--model", _pickle_model(e)],
    "train_invalid_bench": lambda e: ["train", _broken_png_bench(e), e.tmp / "o"],
    "train_bad_exclude": lambda e: ["train", e.bench, e.tmp / "o", "--exclude", "forget7"],
    "train_into_user_folder": lambda e: ["train", e.bench, _user_notes(e)],
    "train_into_bench": lambda e: ["train", e.bench, e.bench / "model"],
    "train_missing_config": lambda e: [
        "train",
        e.bench,
        e.tmp / "o",
        "--train_config",
        e.tmp / "nope.yaml",
    ],
    "train_float_batch_size": lambda e: [
        "train",
        e.bench,
        e.tmp / "o",
        "--train_config",
        e.yaml("t.yaml", {"train": {"batch_size": 2.5}}),
    ],
    "train_unknown_config_field": lambda e: [
        "train",
        e.bench,
        e.tmp / "o",
        "--train_config",
        e.yaml("t.yaml", {"train": {"epoch": 2}}),
    ],
    "train_bad_dtype_in_config": lambda e: [
        "train",
        e.bench,
        e.tmp / "o",
        "--train_config",
        e.yaml("t.yaml", {"dtype": "bf16"}),
    ],
    "train_config_is_a_list": lambda e: [
        "train",
        e.bench,
        e.tmp / "o",
        "--train_config",
        e.yaml("t.yaml", [1, 2]),
    ],
    "train_string_epochs": lambda e: [
        "train",
        e.bench,
        e.tmp / "o",
        "--train_config",
        e.yaml("t.yaml", {"train": {"epochs": "many"}}),
    ],
    # unlearn
    "unlearn_unknown_method": lambda e: ["unlearn", "nope", e.model, e.bench, e.tmp / "o"],
    "unlearn_bad_forget": lambda e: [
        "unlearn",
        "ga",
        e.model,
        e.bench,
        e.tmp / "o",
        "--forget",
        "forget7",
    ],
    "unlearn_negative_k": lambda e: ["unlearn", "smfa", e.model, e.bench, e.tmp / "o", "--k", "-1"],
    "unlearn_k_not_a_number": lambda e: [
        "unlearn",
        "smfa",
        e.model,
        e.bench,
        e.tmp / "o",
        "--k",
        "x",
    ],
    "unlearn_bad_criteria": lambda e: [
        "unlearn",
        "smfa",
        e.model,
        e.bench,
        e.tmp / "o",
        "--criteria",
        "cx",
    ],
    "unlearn_into_original": lambda e: ["unlearn", "ga", e.model, e.bench, e.model],
    "unlearn_into_file": lambda e: ["unlearn", "ga", e.model, e.bench, e.file("o.txt", "x")],
    "unlearn_into_user_folder": lambda e: ["unlearn", "ga", e.model, e.bench, _user_notes(e)],
    "unlearn_missing_original": lambda e: ["unlearn", "ga", e.tmp / "nope", e.bench, e.tmp / "o"],
    "unlearn_adapters_from_missing": lambda e: [
        "unlearn",
        "smfa",
        e.model,
        e.bench,
        e.tmp / "o",
        "--adapters_from",
        e.tmp / "nope",
    ],
    "unlearn_adapters_from_mfa_only": lambda e: [
        "unlearn",
        "smfa",
        e.model,
        e.bench,
        e.tmp / "o",
        "--adapters_from",
        _mfa_only(e),
    ],
    "unlearn_adapters_from_other_model": lambda e: [
        "unlearn",
        "smfa",
        e.model,
        e.bench,
        e.tmp / "o",
        "--adapters_from",
        _other_model_adapter(e),
    ],
    "unlearn_manu_bad_ratio": lambda e: [
        *("unlearn", "manu", e.model, e.bench, e.tmp / "o", "--ratio", "0"),
    ],
    "unlearn_tailor_bad_density": lambda e: [
        *("unlearn", "model_tailor", e.model, e.bench, e.tmp / "o", "--density", "1.5"),
    ],
    "unlearn_tailor_no_mfa": lambda e: [
        *("unlearn", "model_tailor", e.model, e.bench, e.tmp / "o"),
        *("--adapters_from", e.file("src/adapters/anchor/notes.txt", "x").parents[2]),
    ],
    "unlearn_cannot_reuse": lambda e: [
        "unlearn",
        "ga",
        e.model,
        e.bench,
        e.tmp / "o",
        "--adapters_from",
        e.unlearned,
    ],
    "unlearn_unknown_option_in_config": lambda e: [
        "unlearn",
        "smfa",
        e.model,
        e.bench,
        e.tmp / "o",
        "--method_config",
        e.yaml("m.yaml", {"options": {"kk": 1}}),
    ],
    "unlearn_bad_option_in_config": lambda e: [
        "unlearn",
        "smfa",
        e.model,
        e.bench,
        e.tmp / "o",
        "--method_config",
        e.yaml("m.yaml", {"options": {"k": -2}}),
    ],
    "unlearn_bad_dtype_in_config": lambda e: [
        "unlearn",
        "smfa",
        e.model,
        e.bench,
        e.tmp / "o",
        "--method_config",
        e.yaml("m.yaml", {"dtype": "bf16"}),
    ],
    "unlearn_retain_few_too_large": lambda e: [
        "unlearn",
        "smfa",
        e.model,
        e.bench,
        e.tmp / "o",
        "--retain_few",
        "10000",
        "--method_config",
        str(shipped_config("unlearn", "smoke.yaml")),
    ],
    "unlearn_empty_forget": lambda e: [
        "unlearn",
        "smfa",
        e.model,
        _empty_forget_bench(e),
        e.tmp / "o",
    ],
    # sculpt
    "sculpt_missing_adapter": lambda e: ["sculpt", e.tmp / "nope", e.tmp / "nope", e.tmp / "o"],
    "sculpt_adapters_do_not_match": lambda e: [
        "sculpt",
        e.unlearned / "adapters" / "mfa",
        _other_model_adapter(e) / "adapters" / "anchor",
        e.tmp / "o",
    ],
    "sculpt_bad_criteria": lambda e: [
        "sculpt",
        e.unlearned / "adapters" / "mfa",
        e.unlearned / "adapters" / "anchor",
        e.tmp / "o",
        "--criteria",
        "cx",
    ],
    "sculpt_bad_dtype": lambda e: [
        "sculpt",
        e.unlearned / "adapters" / "mfa",
        e.unlearned / "adapters" / "anchor",
        e.tmp / "o",
        "--dtype",
        "int8",
    ],
    "sculpt_nan_adapter": lambda e: [
        "sculpt",
        _nan_adapter(e),
        e.unlearned / "adapters" / "anchor",
        e.tmp / "o",
    ],
    "sculpt_pickle_adapter": lambda e: [
        "sculpt",
        _pickle_adapter(e),
        e.unlearned / "adapters" / "anchor",
        e.tmp / "o",
    ],
    "sculpt_truncated_adapter": lambda e: [
        "sculpt",
        _truncated_adapter(e),
        e.unlearned / "adapters" / "anchor",
        e.tmp / "o",
    ],
    "sculpt_into_an_input": lambda e: [
        "sculpt",
        e.unlearned / "adapters" / "mfa",
        e.unlearned / "adapters" / "anchor",
        e.unlearned,
    ],
    # eval
    "eval_delta_for_other_model": lambda e: [
        "eval",
        e.model,
        e.bench,
        e.tmp / "e.json",
        "--adapter",
        e.delta(
            {
                "model.language_model.layers.0.self_attn.q_proj.weight": __import__("torch").zeros(
                    3, 3
                )
            }
        ),
    ],
    "eval_nan_delta": lambda e: [
        "eval",
        e.model,
        e.bench,
        e.tmp / "e.json",
        "--adapter",
        e.delta(_nan_delta(e)),
    ],
    "eval_pickle_adapter": lambda e: [
        "eval",
        e.model,
        e.bench,
        e.tmp / "e.json",
        "--adapter",
        _pickle_adapter(e),
    ],
    "eval_truncated_model": lambda e: ["eval", _truncated_model(e), e.bench, e.tmp / "e.json"],
    "eval_out_in_bench": lambda e: ["eval", e.model, e.bench, e.bench / "manifest.json"],
    "eval_out_user_file": lambda e: ["eval", e.model, e.bench, e.file("mine.json", "{}")],
    "eval_out_is_a_folder": lambda e: ["eval", e.model, e.bench, _user_notes(e)],
    "eval_reference_is_a_list": lambda e: [
        "eval",
        e.model,
        e.bench,
        e.tmp / "e.json",
        "--reference",
        e.file("ref.json", "[1, 2]"),
    ],
    "attack_bad_suite": lambda e: [
        "attack",
        e.model,
        e.bench,
        e.tmp / "a.json",
        "--suite",
        "everything",
    ],
    "attack_unknown_attack": lambda e: [
        "attack",
        e.model,
        e.bench,
        e.tmp / "a.json",
        "--attacks",
        "[nope]",
    ],
    "attack_zero_questions": lambda e: [
        "attack",
        e.model,
        e.bench,
        e.tmp / "a.json",
        "--max_questions",
        "0",
    ],
    "attack_control_is_an_eval_json": lambda e: [
        "attack",
        e.model,
        e.bench,
        e.tmp / "a.json",
        "--control",
        e.file("ev.json", json.dumps({"summary": {}, "records": [], "smfa_version": "0"})),
    ],
    "attack_out_user_file": lambda e: ["attack", e.model, e.bench, e.file("mine.json", "{}")],
    "eval_unknown_judge": lambda e: ["eval", e.model, e.bench, e.tmp / "e.json", "--judge", "nope"],
    "eval_unknown_judge_option": lambda e: [
        "eval",
        e.model,
        e.bench,
        e.tmp / "e.json",
        "--judge_options",
        '{"nope": 1}',
    ],
    "eval_unknown_split": lambda e: [
        "eval",
        e.model,
        e.bench,
        e.tmp / "e.json",
        "--splits",
        '["nope"]',
    ],
    "eval_float_batch_size": lambda e: [
        "eval",
        e.model,
        e.bench,
        e.tmp / "e.json",
        "--batch_size",
        "2.5",
    ],
    "eval_full_disk": _full_disk,
    # run
    "run_config_is_a_list": lambda e: ["run", e.yaml("r.yaml", [1, 2])],
    "run_unknown_field": lambda e: ["run", e.run_config(nme="x"), "--out", e.tmp / "runs"],
    "run_unknown_method": lambda e: [
        "run",
        e.run_config(methods={"x": {"method": "nope"}}),
        "--out",
        e.tmp / "runs",
    ],
    "run_bad_method_option": lambda e: [
        "run",
        e.run_config(methods={"smfa": {"method": "smfa", "options": {"k": -1}}}),
        "--out",
        e.tmp / "runs",
    ],
    "run_eval_key_typo": lambda e: [
        "run",
        e.run_config(eval={"max_sample": 3}),
        "--out",
        e.tmp / "runs",
    ],
    "run_attacks_key_typo": lambda e: [
        "run",
        e.run_config(attacks={"suit": "full"}),
        "--out",
        e.tmp / "runs",
    ],
    "run_attacks_bad_suite": lambda e: [
        "run",
        e.run_config(attacks={"suite": "all"}),
        "--out",
        e.tmp / "runs",
    ],
    "run_eval_float_int": lambda e: [
        "run",
        e.run_config(eval={"batch_size": 2.5}),
        "--out",
        e.tmp / "runs",
    ],
    "run_negative_sweep_k": lambda e: [
        "run",
        e.run_config(sweep={"k": [-1]}),
        "--out",
        e.tmp / "runs",
    ],
    "run_float_seed": lambda e: ["run", e.run_config(seeds=[1.5]), "--out", e.tmp / "runs"],
    "run_bad_bench_field": lambda e: [
        "run",
        e.run_config(bench={"profiles": 3}),
        "--out",
        e.tmp / "runs",
    ],
    "run_bad_sequential": lambda e: [
        "run",
        e.run_config(sequential={"requests": 1}),
        "--out",
        e.tmp / "runs",
    ],
    "run_into_user_folder": lambda e: [
        "run",
        e.run_config(name="notes"),
        "--out",
        _user_notes(e).parent,
    ],
    # report
    "report_missing_run": lambda e: ["report", e.tmp / "nope"],
    "report_no_eval": lambda e: ["report", _user_notes(e)],
    "report_over_user_file": _report_over_user_file,
    # ledger
    "ledger_init_bad_mode": lambda e: [
        "ledger",
        "init",
        e.model,
        e.tmp / "L",
        "--bench",
        e.bench,
        "--mode",
        "parallel",
    ],
    "ledger_add_not_a_ledger": lambda e: ["ledger", "add", e.tmp / "nope", "--forget", "forget05"],
    "ledger_add_unknown_profile": lambda e: ["ledger", "add", _ledger(e), "--forget", "p9999"],
    "ledger_add_untrained_profiles": lambda e: ["ledger", "add", _ledger(e), "--forget", "holdout"],
    "ledger_add_base_changed": lambda e: [
        "ledger",
        "add",
        _ledger_on_changed_base(e),
        "--forget",
        "forget05",
    ],
    "ledger_remove_unknown_request": lambda e: ["ledger", "remove", _ledger(e), "r0009"],
    "ledger_build_base_changed": lambda e: [
        "ledger",
        "build",
        _ledger_on_changed_base(e),
        e.tmp / "out",
    ],
    "export_not_a_method": lambda e: ["export", _user_notes(e), e.tmp / "o"],
    "export_both_modes": lambda e: [
        "export",
        e.unlearned,
        e.tmp / "o",
        "--merged",
        "true",
        "--adapter",
        "true",
    ],
    "export_missing_original": lambda e: ["export", _unlearned_without_model(e), e.tmp / "o"],
    "export_into_user_folder": lambda e: ["export", e.unlearned, _user_notes(e)],
    "verify_no_certificate": lambda e: ["verify", _user_notes(e)],
    "verify_changed_byte": lambda e: ["verify", _changed_export(e)],
}


def _nan_delta(env: Env) -> dict:
    from smfa.adapters import adapter_deltas

    d = adapter_deltas(env.unlearned / "adapters" / "mfa")
    key = next(iter(d))
    d[key][0, 0] = float("nan")
    return {key: d[key]}


def test_every_documented_case_has_a_test_and_back():
    documented = doc_cases()
    assert len(documented) >= 40
    assert set(documented) == set(CASES), set(documented) ^ set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_case(case, small_bench, tiny_original, unlearned, tmp_path, capsys, monkeypatch):
    from smfa.cli import main

    env = Env(tmp_path, small_bench, tiny_original, unlearned)
    make = CASES[case]
    argv = make(env, monkeypatch) if make is _full_disk else make(env)
    argv = [str(a) for a in argv]
    monkeypatch.setenv("SMFA_QUIET", "1")
    before = tree(tmp_path, small_bench, tiny_original, unlearned)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err[-2000:]
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, err[-2000:]
    assert doc_cases()[case] in lines[0], lines[0]
    after = tree(tmp_path, small_bench, tiny_original, unlearned)
    assert after == before, "files changed or left behind: " + ", ".join(
        sorted(set(after) ^ set(before) | {k for k in after if after.get(k) != before.get(k)})
    )
    assert not [p for p in tmp_path.rglob(".*")], "temporary files left behind"
