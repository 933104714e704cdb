"""Prompt/label formatting and generation on tiny random models of seven families.

LLaVA (the tiny default), LLaVA-1.5, LLaVA-OneVision, Qwen2-VL, Qwen2.5-VL, Idefics3 and
Gemma-3 are built from configs, saved with ``save_pretrained`` and loaded back through
``smfa.models.load``.
"""

import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from tiny_families import FAMILIES, WORDS, build_qwen2_vl

from smfa.errors import SmfaError
from smfa.losses import nll_loss, sequence_logprob_sum
from smfa.models import answer_logits, load, supports_images, tiny
from smfa.models.format import (
    IGNORE_INDEX,
    _pad_dim1,
    collate,
    decode_answers,
    encode,
    prompt_batch,
    split_by_image,
    train_batch,
)
from smfa.models.forward import answer_window

torch.set_num_threads(1)

RED = Image.new("RGB", (40, 30), (200, 10, 10))
BLUE = Image.new("RGB", (32, 32), (10, 10, 200))
ITEMS = [
    (RED, "who is this person ?", "Alice Smith ."),
    (None, "what is her name ?", "I do not know ."),
    (BLUE, "where was she born ?", "Paris"),
    (None, "where was Alice Smith born ?", "she was born in Paris ."),
]
BUILDERS = {
    "llava": lambda out: tiny.build(out, [" ".join(WORDS)], seed=0),
    "qwen2_vl": build_qwen2_vl,
    **FAMILIES,
}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def family(request, tmp_path_factory):
    path = BUILDERS[request.param](tmp_path_factory.mktemp(request.param) / "model")
    model, processor = load(str(path))
    return request.param, model, processor


def _forward(model, batch):
    with torch.no_grad():
        return model(**batch)


def test_loaded_model_is_multimodal(family):
    name, model, processor = family
    assert supports_images(model) and not model.training
    assert model.dtype == torch.float32


def test_labels_mask_prompt_and_padding(family):
    _, _, processor = family
    batch = train_batch(processor, ITEMS)
    tok = processor.tokenizer
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    for i, (image, question, answer) in enumerate(ITEMS):
        labels, ids, mask = batch["labels"][i], batch["input_ids"][i], batch["attention_mask"][i]
        n = int(mask.sum())
        assert mask[:n].all() and not mask[n:].any()  # right padding
        trained = (labels != IGNORE_INDEX).nonzero().flatten()
        start = int(trained[0])
        # the answer is one contiguous run that ends at the last real token
        assert trained.tolist() == list(range(start, n))
        assert torch.equal(labels[start:n], ids[start:n])
        # everything before it is exactly the generation prompt
        prompt = prompt_batch(processor, [(image, question)])["input_ids"][0]
        assert torch.equal(ids[:start], prompt)
        assert tok.decode(labels[start:n], skip_special_tokens=True).strip() == answer
        assert int(labels[n - 1]) in tok.added_tokens_decoder  # end-of-turn / eos is trained


def test_loss_is_cross_entropy_over_answer_tokens(family):
    _, model, processor = family
    batch = train_batch(processor, ITEMS)
    out = _forward(model, batch)
    logits, labels = out.logits[:, :-1].float(), batch["labels"][:, 1:]
    keep = labels != IGNORE_INDEX
    manual = F.cross_entropy(logits[keep], labels[keep])
    assert torch.allclose(out.loss, manual, atol=1e-5)


def test_answer_logits_equal_the_full_sequence_losses(family):
    """Logits of the answer window only give the same losses as the full-sequence logits."""
    _, model, processor = family
    batch = train_batch(processor, ITEMS)
    full = _forward(model, batch)
    with torch.no_grad():
        logits, labels = answer_logits(model, batch)
    start = answer_window(batch["labels"])
    assert start > 0 and logits.shape[1] == labels.shape[1] == batch["labels"].shape[1] - start
    assert torch.allclose(logits, full.logits[:, start:], atol=1e-5)
    assert torch.allclose(nll_loss(logits, labels), full.loss, atol=1e-5)
    assert torch.allclose(
        sequence_logprob_sum(logits, labels),
        sequence_logprob_sum(full.logits, batch["labels"]),
        atol=1e-4,
    )


def test_answer_window_hand_computed():
    x = IGNORE_INDEX
    # earliest answer token at position 3 (row 1) → logits needed from position 2
    assert answer_window(torch.tensor([[x, x, x, x, 5, 6], [x, x, x, 7, 8, x]])) == 2
    assert answer_window(torch.tensor([[4, 5, x]])) == 0  # answer from the first token
    assert answer_window(torch.tensor([[x, x, x]])) == 2  # no answer: last position only


def test_mixed_batch_matches_single_samples(family):
    """Image features land in the right sample: batched logits equal one-by-one logits."""
    _, model, processor = family
    batch = train_batch(processor, ITEMS)
    assert batch["pixel_values"].shape[0] >= 2  # only the two samples with an image
    logits = _forward(model, batch).logits
    for i, item in enumerate(ITEMS):
        single = train_batch(processor, [item])
        n = single["input_ids"].shape[1]
        alone = _forward(model, single).logits[0]
        assert torch.allclose(logits[i, :n], alone, atol=1e-4), i


def test_generate_left_padded_with_and_without_image(family):
    _, model, processor = family
    prompts = [(it[0], it[1]) for it in ITEMS]
    batch = prompt_batch(processor, prompts)
    mask = batch["attention_mask"]
    assert mask[:, -1].all() and not mask[:, 0].all()  # left padding
    kwargs = dict(max_new_tokens=4, do_sample=False, pad_token_id=processor.tokenizer.pad_token_id)
    with torch.no_grad():
        seqs = model.generate(**batch, **kwargs)
    answers = decode_answers(processor, seqs, batch["input_ids"].shape[1])
    assert len(answers) == len(prompts) and all(isinstance(a, str) for a in answers)
    for i, p in enumerate(prompts):  # left padding does not change greedy answers
        single = prompt_batch(processor, [p])
        with torch.no_grad():
            one = model.generate(**single, **kwargs)
        assert decode_answers(processor, one, single["input_ids"].shape[1]) == [answers[i]]


def test_max_length_truncates_answers_only(family):
    _, _, processor = family
    full = train_batch(processor, ITEMS[:1])
    n = full["input_ids"].shape[1]
    cut = train_batch(processor, ITEMS[:1], max_length=n - 1)
    assert cut["input_ids"].shape[1] == n - 1
    assert torch.equal(cut["labels"][0], full["labels"][0, : n - 1])
    with pytest.raises(SmfaError, match="max_length"):
        train_batch(processor, ITEMS[:1], max_length=3)


def test_encode_once_then_collate_equals_train_batch(family):
    _, _, processor = family
    encoded = [encode(processor, *item) for item in ITEMS]
    direct = train_batch(processor, ITEMS)
    collated = collate(processor, encoded, padding_side="right")
    assert collated.keys() == direct.keys()
    assert all(torch.equal(collated[k], direct[k]) for k in direct)


def test_tiled_images_are_zero_padded_to_a_common_count():
    a, b = torch.ones(1, 2, 3, 4, 4), torch.ones(1, 5, 3, 4, 4)
    padded = _pad_dim1([a, b])
    assert [t.shape[1] for t in padded] == [5, 5]
    assert padded[0][:, 2:].abs().sum() == 0 and torch.equal(padded[1], b)
    flat = [torch.ones(4, 6), torch.ones(8, 6)]  # Qwen2-VL patches: concatenated, not padded
    assert _pad_dim1(flat) is flat


def test_split_by_image_and_empty_batches():
    assert split_by_image(ITEMS) == ([0, 2], [1, 3])
    with pytest.raises(SmfaError, match="empty"):
        train_batch(None, [])


def test_processor_without_video_keeps_its_settings(tmp_path):
    """LLaVA-OneVision's processor settings survive save + load without torchvision (they were
    dropped: transformers reads them from __init__'s signature and code)."""
    from tiny_families import build_llava_onevision

    from smfa.models.load import load_processor

    path = build_llava_onevision(tmp_path / "ov")
    processor = load_processor(path)
    assert type(processor).__name__ == "LlavaOnevisionProcessor"
    assert processor.video_processor is None if hasattr(processor, "video_processor") else True
    assert (processor.num_image_tokens, processor.vision_feature_select_strategy) == (4, "full")
    assert processor.vision_aspect_ratio == "anyres_max_9"


def test_eos_appended_when_the_template_closes_answers_with_plain_text(tmp_path):
    """LLaVA-1.5's template ends the answer with a space, no end-of-turn token: the formatter
    appends eos so that the model learns to stop; templates ending in a special token keep it."""
    from tiny_families import build_gemma3, build_llava15

    from smfa.models.format import render

    llava = load(str(build_llava15(tmp_path / "l")))[1]
    assert render(llava, "who ?", False, "Alice .") == "USER: who ? ASSISTANT: Alice .</s>"
    assert render(llava, "who ?", False) == "USER: who ? ASSISTANT:"
    gemma = load(str(build_gemma3(tmp_path / "g")))[1]
    assert render(gemma, "who ?", False, "Alice .").endswith("Alice .<end_of_turn>")


def test_prompt_is_a_prefix_when_the_template_writes_the_answer_header_otherwise(tmp_path):
    """LLaVA-OneVision's template renders "<|im_start|>assistant \\n" before an answer but
    "<|im_start|>assistant\\n" as the generation prompt: with its byte-level BPE the prompt's
    tokens were not a prefix (SmfaError); training now uses the generation prompt."""
    from tiny_families import build_llava_onevision

    from smfa.models.format import render

    processor = load_processor_of(build_llava_onevision(tmp_path / "ov"))
    full = render(processor, "who ?", True, "Alice .")
    prompt = render(processor, "who ?", True)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert full == prompt + "Alice .<|im_end|>"
    enc = encode(processor, RED, "who ?", "Alice .")
    trained = enc["labels"][0][enc["labels"][0] != IGNORE_INDEX]
    assert processor.tokenizer.decode(trained) == "Alice .<|im_end|>"


def load_processor_of(path):
    from smfa.models.load import load_processor

    return load_processor(path)


def test_continuation_ids_are_the_trained_answer_tokens(family):
    """continuation_ids (the batched scoring path) gives exactly encode's labels on every
    family, eos appended (LLaVA-1.5) and prompt-prefixed (LLaVA-OneVision) included."""
    from smfa.models.format import continuation_ids

    _, _, processor = family
    groups = [(q, im is not None, [a, "I do not know ."]) for im, q, a in ITEMS]
    got = continuation_ids(processor, groups)
    for (im, q, _), (_, _, answers), ids in zip(ITEMS, groups, got):
        for answer, cont in zip(answers, ids):
            labels = encode(processor, im, q, answer)["labels"][0]
            assert labels[labels != IGNORE_INDEX].tolist() == cont
