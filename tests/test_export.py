"""`smfa export` / `smfa verify` on the smfa method of the imported-MLLMU smoke run
(``mllmu_run`` in conftest.py): the folders load with peft / transformers and answer like the
run's model; the certificate describes them; one changed byte is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from smfa.errors import SmfaError
from smfa.io import read_yaml
from smfa.stages.export import export, verify

FULL_RANK = 512  # >= every layer's smaller side in the tiny model: the LoRA is exact


def greedy(model, processor, bench: Path) -> list[list[int]]:
    """Greedy answers (token ids) to a few forget and retain questions, image and text."""
    from smfa.bench import load
    from smfa.models.format import prompt_batch

    b = load(bench)
    rows = b.split("forget10")[:4] + b.split("retain")[:4]
    items = [(b.open_image(r), r["question"]) for r in rows]
    batch = prompt_batch(processor, items)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=8, do_sample=False)
    return out[:, batch["input_ids"].shape[1] :].tolist()


@pytest.fixture(scope="module")
def run_model_answers(mllmu_run):
    """The run's smfa model (original + the method's delta) and its answers."""
    from smfa.adapters import apply_update
    from smfa.models import load

    cfg = read_yaml(mllmu_run / "methods" / "smfa" / "config.yaml")
    model, processor = load(cfg["original"])
    model = apply_update(model, mllmu_run / "methods" / "smfa")
    return cfg, processor, greedy(model.eval(), processor, Path(cfg["bench"]))


def test_exported_adapter_loads_with_peft_and_answers_like_the_run(
    mllmu_run, run_model_answers, tmp_path
):
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    cfg, processor, want = run_model_answers
    out = export(str(mllmu_run), str(tmp_path / "adapter"), rank=FULL_RANK)
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    base = AutoModelForImageTextToText.from_pretrained(cfg["original"])
    model = PeftModel.from_pretrained(base, str(out)).eval()
    assert greedy(model, processor, Path(cfg["bench"])) == want
    cert = json.loads((out / "certificate.json").read_text())
    assert cert["svd"]["rank"] == FULL_RANK and cert["svd"]["max_relative_error"] < 1e-5
    assert verify(str(out)).startswith(f"{out}: ok")


def test_exported_merged_model_loads_with_transformers_and_answers_like_the_run(
    mllmu_run, run_model_answers, tmp_path
):
    from transformers import AutoModelForImageTextToText

    cfg, processor, want = run_model_answers
    out = export(str(mllmu_run / "methods" / "smfa"), str(tmp_path / "merged"), merged=True)
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    model = AutoModelForImageTextToText.from_pretrained(str(out)).eval()
    assert greedy(model, processor, Path(cfg["bench"])) == want
    # the weights are W_o + ΔW' of the method (not the base model unchanged)
    from smfa.io import load_safetensors

    delta = load_safetensors(mllmu_run / "methods" / "smfa" / "delta.safetensors")
    key, d = max(delta.items(), key=lambda kv: float(kv[1].abs().sum()))
    assert float(d.abs().max()) > 0
    original = AutoModelForImageTextToText.from_pretrained(cfg["original"])
    base = dict(original.named_parameters())[key].detach()
    torch.testing.assert_close(dict(model.named_parameters())[key].detach(), base + d)


def test_certificate_and_card_describe_what_was_forgotten(mllmu_run, tmp_path):
    from smfa.io import sha256_file

    out = export(str(mllmu_run), str(tmp_path / "a"))  # default rank: the method's LoRA r
    cert = json.loads((out / "certificate.json").read_text())
    method_dir = mllmu_run / "methods" / "smfa"
    cfg = read_yaml(method_dir / "config.yaml")
    assert cert["forgotten"]["split"] == "forget10"
    assert cert["forgotten"]["profile_ids"] == ["001", "002"]  # layout.json: forget_10
    assert cert["method"] == "smfa" and cert["k"] == cfg["options"]["k"] and cert["seed"] == 0
    assert cert["svd"]["rank"] == 4  # configs/unlearn/smoke.yaml: r 4
    src = cert["method_dir"]["files"]
    assert src["delta.safetensors"] == sha256_file(method_dir / "delta.safetensors")
    assert src["config.yaml"] == sha256_file(method_dir / "config.yaml")
    assert {"adapters/mfa/adapter_model.safetensors", "adapters/anchor/adapter_config.json"} <= set(
        src
    )
    base = cert["base_model"]["files"]
    assert base["model.safetensors"] == sha256_file(Path(cfg["original"]) / "model.safetensors")
    assert set(cert["files"]) == {
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
    }
    ev = json.loads((mllmu_run / "eval" / "smfa.json").read_text())["summary"]["main"]
    assert cert["figures"]["forgetting"]["rouge"]["forget_mem"] == ev["rouge"]["forget_mem"]
    assert cert["figures"]["utility"]["rouge"]["retain_mem"] == ev["rouge"]["retain_mem"]
    assert cert["versions"]["torch"] == torch.__version__.split("+")[0] or cert["versions"]
    card = (out / "README.md").read_text()
    assert "split `forget10`" in card and "2 profiles" in card and "method `smfa`" in card
    assert "Alma Verdane" not in json.dumps(cert) + card  # ids only, no names
    assert cert["svd"]["max_relative_error"] > 1e-3 and "**approximate**" in card


def test_verify_detects_a_changed_byte_and_names_the_file(mllmu_run, tmp_path, capsys):
    from smfa.cli import main

    out = export(str(mllmu_run), str(tmp_path / "a"))
    main(["verify", str(out)])
    assert ": ok, matches certificate.json" in capsys.readouterr().out
    w = out / "adapter_model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 1
    w.write_bytes(bytes(data))
    with pytest.raises(SystemExit) as exc:
        main(["verify", str(out)])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2
    assert err == f"error: {w}: sha256 does not match certificate.json"
    (out / "extra.txt").write_text("x")
    w.write_bytes(bytes(data[:-1]) + bytes([data[-1] ^ 1]))  # restore the byte
    with pytest.raises(SmfaError, match="extra.txt: file is not listed"):
        verify(str(out))


def test_a_method_whose_update_is_one_adapter_ships_that_adapter(mllmu_run, tmp_path):
    """idk's update is its LoRA (the raw MFA): the export is that adapter, byte for byte."""
    out = export(str(mllmu_run), str(tmp_path / "idk"), method="idk")
    cert = json.loads((out / "certificate.json").read_text())
    # in a run, idk reuses smfa's MFA (config.yaml: adapters_from)
    own_dir = (mllmu_run / "methods" / "smfa" / "adapters" / "mfa").resolve()
    assert cert["adapter_from"] == str(own_dir) and cert["svd"] is None
    assert cert["adapters_from"]["path"] == str((mllmu_run / "methods" / "smfa").resolve())
    own = own_dir / "adapter_model.safetensors"
    assert (out / "adapter_model.safetensors").read_bytes() == own.read_bytes()
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == (
        str(Path(read_yaml(mllmu_run / "methods" / "idk" / "config.yaml")["original"]).resolve())
    )
    assert "adapters_from (" in verify(str(out))  # the reused adapters are re-hashed too
    smfa = json.loads(
        (export(str(mllmu_run), str(tmp_path / "s")) / "certificate.json").read_text()
    )
    assert smfa["adapter_from"] is None and smfa["svd"]["rank"] == 4  # sculpted: re-factored


def test_export_command_line_takes_bare_switches(mllmu_run, tmp_path, capsys):
    from smfa.cli import bare_flags, main

    assert bare_flags(["export", "a", "b", "--merged", "--overwrite"]) == [
        "export",
        "a",
        "b",
        "--merged",
        "true",
        "--overwrite",
        "true",
    ]
    assert bare_flags(["--overwrite", "false", "--adapter"]) == [
        "--overwrite",
        "false",
        "--adapter",
        "true",
    ]
    out = tmp_path / "m"
    main(["export", str(mllmu_run), str(out), "--merged", "--overwrite"])
    cert = json.loads((out / "certificate.json").read_text())
    assert cert["kind"] == "merged" and "model.safetensors" in cert["files"]
    assert cert["dtype"] == "float32"  # the tiny base model's config.json


def test_export_refuses_a_user_folder_and_both_modes(mllmu_run, tmp_path):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep")
    with pytest.raises(SmfaError, match="not an earlier `smfa export` output"):
        export(str(mllmu_run), str(user))
    with pytest.raises(SmfaError, match="choose one of --merged and --adapter"):
        export(str(mllmu_run), str(tmp_path / "x"), merged=True, adapter=True)
    assert (user / "notes.txt").read_text() == "keep" and not (tmp_path / "x").exists()
