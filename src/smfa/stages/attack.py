"""Stage: ``smfa attack`` — is the fact gone or only hidden? The robustness suite on one model.

Every attack of the suite (prompt attacks, held-out paraphrases, the other view, image
perturbations, relearning, quantization, logit lens, membership inference: docs/metrics.md
§10) is run on the forget set of the model (with a method's update) and of the retain-only
control, which never learned the forget profiles. Per attack and model: Fact Score and leak
rate attacked vs unattacked and ``recovery = attacked − unattacked``; recovery above the
control's is leakage. The evaluated model's folder is only read.
"""

from __future__ import annotations

import json
from pathlib import Path

from smfa.errors import SmfaError
from smfa.io import check_output, output_lock, read_json, write_json
from smfa.progress import say
from smfa.splits import check_forget
from smfa.stages.evaluate import load_evaluated_model, make_scoring, provenance, relative_to_output


def is_attack_result(path: str | Path) -> bool:
    """Whether ``path`` holds a JSON that ``smfa attack`` wrote (so it may be replaced)."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("smfa_output") == "attack"


def read_control(path: str) -> tuple[dict, dict] | None:
    """``(results, unattacked)`` of the model of an earlier attack JSON given as ``--control``
    (None when ``path`` is not a file: a model folder)."""
    if not Path(path).is_file():
        return None
    data = read_json(path)
    ok = isinstance(data, dict) and data.get("smfa_output") == "attack"
    res = (data.get("results") or {}).get("model") if ok else None
    if not isinstance(res, dict):
        raise SmfaError(
            f"--control {path}: field 'results.model' is missing (not an smfa "
            "attack JSON; pass the retain-only model folder or its attack JSON)"
        )
    return res, (data.get("unattacked") or {}).get("model")


def over_control(model: dict, control: dict | None) -> dict:
    """``{attack: model recovery − control recovery}`` of the headline score (None if missing)."""
    out = {}
    for name, res in model.items():
        a = (res.get("score") or {}).get("recovery")
        b = ((control or {}).get(name, {}).get("score") or {}).get("recovery")
        out[name] = None if a is None or b is None else a - b
    return out


def attack(
    model: str,
    bench: str,
    out: str,
    adapter: str | None = None,
    control: str | None = None,
    forget: str = "forget10",
    suite: str = "default",
    attacks: list[str] | None = None,
    max_questions: int | None = None,
    judge: str = "rule",
    judge_options: dict | None = None,
    options: dict | None = None,
    seed: int = 0,
    batch_size: int = 64,
    max_new_tokens: int = 32,
    device: str = "auto",
    dtype: str = "float32",
    overwrite: bool = False,
    allow_pickle: bool = False,
) -> Path:
    """Attack the forgetting of a model (optionally with a method's update); write JSON.

    Args:
        model: model folder (the original model for unlearning methods).
        bench: benchmark folder.
        out: output JSON file.
        adapter: a method's output folder (``delta.safetensors``) or a peft adapter folder.
        control: the retain-only model folder, or its earlier ``smfa attack`` JSON (reused).
        forget: the forget split attacked (forget05, forget10, forget15).
        suite: ``default`` (cheap: one rewrite per question, 40 questions) or ``full``
            (every attack, every template and paraphrase, every forget question).
        attacks: run only these attacks (names of the ATTACKS registry).
        max_questions: forget questions attacked (seeded subset; default 40, full: all).
        judge: rule (default, offline), openai or hf.
        judge_options: the judge's settings.
        options: attack settings: relearn_steps, relearn_lr, top_b.
        seed: seed of the question subset and of every random rewrite.
        batch_size: generation / scoring batch size.
        max_new_tokens: generation length limit.
        device: auto, cpu, cuda, cuda:N.
        dtype: float32, bfloat16 or float16.
        overwrite: replace an existing ``out`` that is not an earlier ``smfa attack`` result.
        allow_pickle: accept pickle weights of a trusted model or adapter (weights-only).
    """
    from smfa.bench import load_valid as load_bench
    from smfa.eval.robustness import DEFAULT_QUESTIONS, forget_questions, run_suite, suite_attacks
    from smfa.runtime import resolve_device

    check_forget(forget)
    names = suite_attacks(suite, attacks)
    if max_questions is not None and max_questions < 1:
        raise SmfaError(f"--max_questions {max_questions}: must be >= 1")
    if options is not None and not isinstance(options, dict):
        raise SmfaError(f"--options {options!r}: expected a mapping")
    check_output(
        out,
        "attack",
        overwrite,
        [model, bench, adapter, control],
        is_file=True,
        owned=is_attack_result(out),
    )
    with output_lock(out):
        control_pair = read_control(control) if control else None
        b = load_bench(bench)
        dev = resolve_device(device)
        scoring = make_scoring(b, judge, judge_options, Path(out))
        n_q = max_questions if max_questions else (None if suite == "full" else DEFAULT_QUESTIONS)
        rows = forget_questions(b, forget, n_q, seed)
        if not rows:
            raise SmfaError(f"{bench}: split '{forget}' has no memory questions to attack")
        kw = dict(
            forget=forget,
            seed=seed,
            full=suite == "full",
            options=options,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
        )

        def suite_of(path: str, adapter_dir: str | None) -> dict:
            net, processor = load_evaluated_model(path, adapter_dir, dtype, dev, allow_pickle)
            return run_suite(net, processor, b, rows, scoring, names, **kw)

        say(f"[attack] {len(names)} attacks on {len(rows)} forget questions")
        model_res, model_plain = suite_of(model, adapter)
        if control and control_pair is None:
            say("[attack] control (retain-only model)")
            control_pair = suite_of(control, None)
        control_res, control_plain = control_pair or (None, None)
        result = {
            "smfa_output": "attack",
            "model": relative_to_output(model, out),
            "adapter": relative_to_output(adapter, out) if adapter else None,
            "control": relative_to_output(control, out) if control else None,
            "bench": relative_to_output(bench, out),
            "forget": forget,
            "suite": suite,
            "attacks": names,
            "questions": len(rows),
            "results": {"model": model_res, "control": control_res},
            "unattacked": {"model": model_plain, "control": control_plain},
            "recovery_over_control": over_control(model_res, control_res) if control else None,
            "config": {
                "judge": judge,
                "options": options or {},
                "batch_size": batch_size,
                "max_new_tokens": max_new_tokens,
                "dtype": dtype,
                "device": dev,
            },
            "seed": seed,
            **provenance(),
        }
        write_json(out, result)
        say(f"[attack] wrote {out}")
        return Path(out)
