"""``smfa.models.load``: one-line SmfaError for bad model folders; text-only guard."""

import shutil

import pytest
import torch
from PIL import Image

from smfa.errors import SmfaError
from smfa.models import load, require_images, supports_images, tiny

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tiny.build(tmp_path_factory.mktemp("tiny") / "model", ["who is she ? Alice ."])


def _error(path, **kwargs) -> str:
    with pytest.raises(SmfaError) as info:
        load(str(path), **kwargs)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_missing_folder(tmp_path):
    assert "model folder not found" in _error(tmp_path / "nope")


def test_folder_without_config(tmp_path):
    assert "config.json" in _error(tmp_path)


def test_pickle_only_weights_refused(tiny_dir, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_dir, folder)
    (folder / "model.safetensors").unlink()
    torch.save({}, folder / "pytorch_model.bin")
    assert "pytorch_model.bin" in _error(folder)


def test_text_only_config_refused(tmp_path):
    from transformers import LlamaConfig

    LlamaConfig(
        vocab_size=16, hidden_size=16, num_attention_heads=2, num_hidden_layers=1
    ).save_pretrained(tmp_path)
    message = _error(tmp_path)
    assert "llama" in message and "image-text-to-text" in message


def test_bad_dtype(tiny_dir):
    with pytest.raises(SmfaError, match="float64"):
        load(str(tiny_dir), dtype="float64")


def test_bfloat16_load(tiny_dir):
    model, _ = load(str(tiny_dir), dtype="bfloat16")
    assert model.dtype == torch.bfloat16


def test_require_images_guards_text_only_models(tiny_dir):
    model, _ = load(str(tiny_dir))
    image_item = (Image.new("RGB", (8, 8)), "who is she ?")
    require_images(model, [image_item])  # multimodal: fine

    class TextOnly(torch.nn.Module):
        config = type("Config", (), {"vision_config": None})()

    text_model = TextOnly()
    assert supports_images(model) and not supports_images(text_model)
    require_images(text_model, [(None, "who is Alice ?")])
    sample = type("Sample", (), {"image": "images/faces/p0001.png"})()
    with pytest.raises(SmfaError, match="1 question"):
        require_images(text_model, [sample])
    with pytest.raises(SmfaError, match="forget05.jsonl: 1 question"):
        require_images(text_model, [image_item], source="forget05.jsonl")
