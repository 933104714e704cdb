"""The tiny default model: config validation, tokenizer, determinism, save/load round trip."""

from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

import smfa
from smfa.io import sha256_file
from smfa.models import load, tiny
from smfa.models.format import prompt_batch

torch.set_num_threads(1)

CORPUS = [
    "Alice Smith was born in 1984, in Paris.",
    "Her salary is $85,000 (before tax).",
    "Who is this person? What is her name?",
    "I don't know.",
]
CONFIGS = Path(smfa.__file__).parent / "configs"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tiny.build(tmp_path_factory.mktemp("tiny") / "model", CORPUS, seed=3)


@pytest.mark.parametrize(
    "field,value",
    [
        ("patch_size", 5),
        ("hidden_size", 130),
        ("num_kv_heads", 3),
        ("num_layers", 0),
        ("vision_position_std", 0.0),
    ],
)
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        tiny.TinyConfig(**{field: value})


def test_shipped_yaml_matches_defaults():
    shipped = yaml.safe_load((CONFIGS / "train/tiny_model.yaml").read_text())
    assert shipped == asdict(tiny.TinyConfig())
    assert tiny.TinyConfig().image_tokens == 16


def test_tokenizer_words_punctuation_unknown():
    tok = tiny.build_tokenizer(CORPUS)
    assert tok.convert_ids_to_tokens([0, 1, 2, 3, 4]) == [
        "<pad>",
        "<unk>",
        "<s>",
        "</s>",
        "<image>",
    ]
    text = "Alice Smith was born in 1984, in Paris."
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in ids
    assert tok.decode(ids) == text  # exact round trip, punctuation attached
    assert "85,000" in tok.decode(tok("$85,000")["input_ids"])
    assert len(tok("85,000", add_special_tokens=False)["input_ids"]) == 1
    unknown = tok("Zebediah was born", add_special_tokens=False)["input_ids"]
    assert unknown[0] == tok.unk_token_id and tok.unk_token_id not in unknown[1:]


def test_build_is_deterministic(tiny_dir, tmp_path):
    again = tiny.build(tmp_path / "again", CORPUS, seed=3)
    files = sorted(p.name for p in tiny_dir.iterdir())
    assert files == sorted(p.name for p in again.iterdir())
    assert "model.safetensors" in files and not any(f.endswith(".bin") for f in files)
    for name in files:
        assert sha256_file(tiny_dir / name) == sha256_file(again / name), name


def test_round_trip_identical_logits(tiny_dir):
    model, processor = load(str(tiny_dir))
    cfg = tiny.TinyConfig()
    fresh = tiny.build_model(tiny.build_tokenizer(CORPUS), cfg, seed=3)
    batch = prompt_batch(processor, [(Image.new("RGB", (40, 30), (9, 200, 30)), "Who is this?")])
    assert (batch["input_ids"] == processor.image_token_id).sum() == cfg.image_tokens
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, fresh(**batch).logits)
    other = tiny.build_model(tiny.build_tokenizer(CORPUS), cfg, seed=4)
    with torch.no_grad():
        assert not torch.equal(model(**batch).logits, other(**batch).logits)
