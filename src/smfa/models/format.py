"""The one place that turns ``(image or None, question, answer)`` into model inputs.

Prompts are always rendered with the model's own chat template
(``processor.apply_chat_template``): a user turn ``[{"type": "image"}, {"type": "text"}]`` (the
image entry only when there is an image) and, for training, the answer as the assistant turn.

Each sample is run through the processor on its own and the results are padded here, so a
batch may mix samples with and without an image for every family: token-level tensors
(``input_ids``, ``attention_mask``, ``mm_token_type_ids``, ``token_type_ids``) are padded,
image-level tensors (``pixel_values``, ``image_grid_thw``, ``pixel_attention_mask``,
``image_sizes`` ...) are concatenated over the samples that have an image, in order, which is
the layout the models consume (image features fill the image tokens in order). Padding is on
the right for training and on the left for generation; it is done here, so the tokenizer's
``padding_side`` is never read or changed.

For many epochs over the same samples, :func:`encode` each sample once and :func:`collate` per
step; :func:`train_batch` and :func:`prompt_batch` do both in one call.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from smfa.errors import SmfaError

IGNORE_INDEX = -100
# Token-level keys and their padding value (input_ids uses the tokenizer's pad id).
TOKEN_KEYS = {"attention_mask": 0, "token_type_ids": 0, "mm_token_type_ids": 0, "labels": -100}


def messages(question: str, has_image: bool, answer: str | None = None) -> list[dict]:
    """Chat messages for one sample: user turn (image first, then text), optional answer."""
    content = ([{"type": "image"}] if has_image else []) + [{"type": "text", "text": question}]
    msgs = [{"role": "user", "content": content}]
    if answer is not None:
        msgs.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return msgs


def render(processor, question: str, has_image: bool, answer: str | None = None) -> str:
    """Prompt text (generation prompt appended) or, with ``answer``, the full conversation.

    The generation prompt is always a prefix of the conversation: when the template writes
    the answer turn's header otherwise (LLaVA-OneVision adds a space), the conversation is
    the prompt followed by the answer and what the template puts after it.
    Trailing whitespace after the end-of-turn token (e.g. Qwen's ``<|im_end|>\\n``) is dropped
    so that the last trained token is the end-of-turn/eos token. A template that closes the
    answer with no special token at all (LLaVA-1.5's ``ASSISTANT: {answer} ``) gets the
    tokenizer's eos token appended, or a model trained on it never learns to stop.
    """
    msgs = messages(question, has_image, answer)
    text = processor.apply_chat_template(msgs, add_generation_prompt=answer is None, tokenize=False)
    if answer is None:
        return text
    return finish_conversation(
        processor.tokenizer, text, render(processor, question, has_image), answer
    )


def finish_conversation(tok, text: str, prompt: str, answer: str) -> str:
    """The rendered conversation ``text`` as :func:`render` returns it (see there), given the
    generation ``prompt`` of its question and the ``answer``."""
    if not text.startswith(prompt) and answer in text:
        # The template renders the answer turn's header unlike its generation prompt
        # (LLaVA-OneVision: "<|im_start|>assistant \n{answer}" vs "<|im_start|>assistant\n"):
        # train on what generation sees, the prompt, then the answer and the turn's closing.
        text = prompt + text[text.rindex(answer) :]
    text = text.rstrip()
    if tok.eos_token and not any(text.endswith(t) for t in _special_tokens(tok)):
        text += tok.eos_token
    return text


def _special_tokens(tok) -> set[str]:
    """The tokenizer's special tokens: named ones and added tokens marked special."""
    added = {t.content for t in getattr(tok, "added_tokens_decoder", {}).values() if t.special}
    return {t for t in (*tok.all_special_tokens, *added) if t}


def _add_special(tok, text: str) -> bool:
    # As processor.apply_chat_template does: no extra bos when the template already has it.
    return not (tok.bos_token is not None and text.startswith(tok.bos_token))


def _process(processor, text: str, image) -> dict[str, torch.Tensor]:
    kwargs = {"images": [image]} if image is not None else {}
    add_special = _add_special(processor.tokenizer, text)
    out = processor(text=[text], return_tensors="pt", add_special_tokens=add_special, **kwargs)
    return {k: v for k, v in out.items() if isinstance(v, torch.Tensor)}


def _prompt_length(processor, prompt: str, full: str, n_full: int) -> int | None:
    """Tokens of the (image-expanded) prompt inside a processed prompt + answer of ``n_full``.

    Computed on the text before image expansion, which is cheap; the expansion (all of it in
    the user turn) adds ``n_full - len(full tokens)`` tokens. None if the prompt's tokens are
    not a prefix of the full conversation's tokens.
    """
    tok = processor.tokenizer
    p = tok(prompt, add_special_tokens=_add_special(tok, prompt))["input_ids"]
    f = tok(full, add_special_tokens=_add_special(tok, full))["input_ids"]
    if f[: len(p)] != p:
        return None
    return len(p) + n_full - len(f)


def encode(
    processor, image, question: str, answer: str | None = None, max_length: int | None = None
) -> dict[str, torch.Tensor]:
    """One sample as batch-of-one tensors: a generation prompt, or with ``answer`` a training
    sample with ``labels``. Encode a dataset once with this and :func:`collate` per step to
    avoid re-processing images every epoch (what :func:`train_batch` does in one call).
    """
    has_image = image is not None
    text = render(processor, question, has_image, answer)
    enc = _process(processor, text, image)
    if answer is None:
        return enc
    ids = enc["input_ids"]
    prompt = render(processor, question, has_image)
    n_prompt = _prompt_length(processor, prompt, text, ids.shape[1])
    if n_prompt is None:
        raise SmfaError(
            f"question {question[:40]!r}: the chat template's prompt tokens are not a prefix "
            "of prompt + answer (cannot locate the answer tokens)"
        )
    if max_length is not None and ids.shape[1] > max_length:
        if n_prompt >= max_length:
            raise SmfaError(
                f"question {question[:40]!r}: prompt has {n_prompt} tokens, "
                f"max_length is {max_length}"
            )
        enc = {k: v[:, :max_length] if _is_token_key(k, v, ids) else v for k, v in enc.items()}
    labels = enc["input_ids"].clone()
    labels[:, :n_prompt] = IGNORE_INDEX
    enc["labels"] = labels
    return enc


def _token_ids(tok, texts: list[str], add_special: bool) -> list[list[int]]:
    """``tok(texts)["input_ids"]``; a fast tokenizer's Rust backend is called directly (the
    same ids without building Python encodings, most of the cost of short texts)."""
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None or backend.padding is not None or backend.truncation is not None:
        return tok(texts, add_special_tokens=add_special)["input_ids"]
    return [e.ids for e in backend.encode_batch(texts, add_special_tokens=add_special)]


def continuation_ids(processor, groups: Sequence[tuple]) -> list[list[list[int]]]:
    """Token ids of each answer as it follows its prompt in :func:`encode`'s prompt + answer.

    ``groups`` are ``(question, has_image, [answers])``; the result has one list of id lists per
    group. ``encode(processor, image, question, answer)`` is the prompt's tokens (image
    expanded) followed by exactly these ids (its labels); computed on the text alone, since
    the image expansion lies inside the prompt, with one tokenizer call for every text.
    Raises SmfaError like :func:`encode` when the prompt's tokens are not a prefix of
    prompt + answer.
    """
    tok = processor.tokenizer
    prompts = [render(processor, q, has_image) for q, has_image, _ in groups]
    convs = [messages(q, has_image, a) for q, has_image, answers in groups for a in answers]
    fulls = processor.apply_chat_template(convs, add_generation_prompt=False, tokenize=False)
    pairs = [(p, a) for p, (_, _, answers) in zip(prompts, groups) for a in answers]
    fulls = [finish_conversation(tok, t, p, a) for t, (p, a) in zip(fulls, pairs)] if convs else []
    texts = prompts + fulls
    # add_special_tokens depends on whether the text starts with bos: tokenize in two calls
    ids: list = [None] * len(texts)
    for add in (True, False):
        which = [i for i, t in enumerate(texts) if _add_special(tok, t) == add]
        if which:
            for i, e in zip(which, _token_ids(tok, [texts[i] for i in which], add)):
                ids[i] = e
    out, k = [], len(prompts)
    for (question, _, answers), p in zip(groups, ids[: len(prompts)]):
        group = []
        for f in ids[k : k + len(answers)]:
            if f[: len(p)] != p:
                raise SmfaError(
                    f"question {question[:40]!r}: the chat template's prompt tokens are not a "
                    "prefix of prompt + answer (cannot locate the answer tokens)"
                )
            group.append(list(f[len(p) :]))
        out.append(group)
        k += len(answers)
    return out


def _is_token_key(key: str, value: torch.Tensor, ids: torch.Tensor) -> bool:
    return key == "input_ids" or (key in TOKEN_KEYS and value.shape == ids.shape)


def _pad_id(processor) -> int:
    tok = processor.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    if pad is None:
        raise SmfaError("processor: the tokenizer has neither a pad token nor an eos token")
    return pad


def collate(processor, encoded: Sequence[dict], padding_side: str = "right") -> dict:
    """Batch :func:`encode` outputs: pad token-level tensors (``labels`` with -100) on
    ``padding_side``; concatenate image-level tensors of the samples that have one."""
    if padding_side not in ("left", "right"):
        raise SmfaError(f"padding_side '{padding_side}': choose left or right")
    pad_id, left = _pad_id(processor), padding_side == "left"
    length = max(e["input_ids"].shape[1] for e in encoded)
    batch: dict[str, list[torch.Tensor]] = {}
    token_keys: set[str] = set()
    for e in encoded:
        n = e["input_ids"].shape[1]
        for key, value in e.items():
            if _is_token_key(key, value, e["input_ids"]):
                token_keys.add(key)
                fill = pad_id if key == "input_ids" else TOKEN_KEYS[key]
                pad = value.new_full((1, length - n), fill)
                value = torch.cat([pad, value] if left else [value, pad], dim=1)
            batch.setdefault(key, []).append(value)
    return {k: torch.cat(v if k in token_keys else _pad_dim1(v), dim=0) for k, v in batch.items()}


def _pad_dim1(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Zero-pad per-sample image stacks ``[1, n_tiles, ...]`` to the largest ``n_tiles``.

    Families that tile images (Idefics3/SmolVLM with image splitting, LLaVA-Next/OneVision)
    treat all-zero tiles as padding; this is what their processors do for a batch.
    """
    if len({t.shape[1:] for t in tensors}) <= 1 or any(t.dim() < 3 for t in tensors):
        return tensors
    n = max(t.shape[1] for t in tensors)
    out = []
    for t in tensors:
        pad = t.new_zeros((t.shape[0], n - t.shape[1], *t.shape[2:]))
        out.append(torch.cat([t, pad], dim=1))
    return out


def train_batch(
    processor, items: Sequence[tuple], max_length: int | None = None
) -> dict[str, torch.Tensor]:
    """Tensors for a training step from ``(image or None, question, answer)`` items.

    Returns ``input_ids`` and ``attention_mask`` ``[B, L]`` (right-padded), ``labels`` ``[B, L]``
    (= ``input_ids`` on the answer tokens including the closing end-of-turn/eos token, -100 on
    prompt and padding tokens), and the image tensors of the family for the samples that have
    an image. ``max_length`` truncates answers on the right; a prompt that does not fit raises
    SmfaError.
    """
    if not items:
        raise SmfaError("train_batch: empty batch")
    encoded = [encode(processor, im, q, a, max_length=max_length) for im, q, a in items]
    return collate(processor, encoded, padding_side="right")


def prompt_batch(processor, items: Sequence[tuple]) -> dict[str, torch.Tensor]:
    """Left-padded generation inputs from ``(image or None, question)`` items.

    The chat template's generation prompt is appended, so ``model.generate(**batch)`` continues
    with the assistant's answer; the prompt length is ``batch["input_ids"].shape[1]``.
    """
    if not items:
        raise SmfaError("prompt_batch: empty batch")
    encoded = [encode(processor, image, question) for image, question, *_ in items]
    return collate(processor, encoded, padding_side="left")


def decode_answers(processor, sequences: torch.Tensor, prompt_len: int) -> list[str]:
    """Decode generated answers: drop the prompt and special tokens, strip whitespace."""
    texts = processor.tokenizer.batch_decode(sequences[:, prompt_len:], skip_special_tokens=True)
    return [t.strip() for t in texts]


def split_by_image(items: Sequence[tuple]) -> tuple[list[int], list[int]]:
    """Indices of the items with an image and of those without (for callers that batch apart).

    Not needed by :func:`train_batch` / :func:`prompt_batch`, which accept mixed batches.
    """
    with_image = [i for i, it in enumerate(items) if it[0] is not None]
    without = [i for i, it in enumerate(items) if it[0] is None]
    return with_image, without
