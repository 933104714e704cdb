"""Tiny random image-text-to-text models of other families, built from configs (no download).

Each ``build_*`` saves a model + processor with ``save_pretrained`` into a folder that
``smfa.models.load`` loads. Vocabularies are word level (``tokenizers``), with the family's
special tokens and a condensed copy of the family's real chat template.
"""

from __future__ import annotations

from pathlib import Path

import torch

from smfa.models.load import without_video

WORDS = (
    "who is this person ? what is her name ? where was she born ? Alice Smith was born in "
    "Paris . I do not know . the sky is blue system user assistant model You are a helpful"
).split()


def word_tokenizer(specials: list[str], named: dict[str, str], extra: dict[str, str]):
    """A whitespace/punctuation word-level tokenizer over WORDS with the given special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate([*specials, *sorted(set(WORDS))])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(specials)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", extra_special_tokens=extra, **named
    )


QWEN_TEMPLATE = (
    "{% for m in messages %}{% if loop.first and m['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif c['type'] == 'text' %}{{ c['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_qwen2_vl(out: Path, seed: int = 0) -> Path:
    """Qwen2-VL: 32x32 images, patch 8, merge 2 -> 4 image tokens; M-RoPE 2-layer decoder."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    specials = ["<pad>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    specials += ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tok = word_tokenizer(
        specials,
        {"pad_token": "<pad>", "eos_token": "<|im_end|>"},
        {"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
    )
    ids = tok.convert_tokens_to_ids
    image_processor = Qwen2VLImageProcessorPil(
        min_pixels=32 * 32, max_pixels=32 * 32, patch_size=8, temporal_patch_size=2, merge_size=2
    )
    # No torchvision here, hence no video processor: see smfa.models.load.without_video.
    processor = without_video(Qwen2VLProcessor)(
        image_processor=image_processor, tokenizer=tok, chat_template=QWEN_TEMPLATE
    )
    config = Qwen2VLConfig(
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": [2, 3, 3],
            },
            bos_token_id=ids("<|endoftext|>"),
            eos_token_id=ids("<|im_end|>"),
            pad_token_id=ids("<pad>"),
        ),
        vision_config=dict(
            depth=2,
            embed_dim=32,
            hidden_size=64,
            num_heads=4,
            mlp_ratio=2,
            patch_size=8,
            spatial_merge_size=2,
            temporal_patch_size=2,
        ),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    return _save(Qwen2VLForConditionalGeneration, config, processor, tok, out, seed)


GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "<start_of_turn>{{ role }}\n{% if m['content'] is string %}{{ m['content'] | trim }}"
    "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<start_of_image>"
    "{% elif c['type'] == 'text' %}{{ c['text'] | trim }}{% endif %}{% endfor %}{% endif %}"
    "<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def build_gemma3(out: Path, seed: int = 0) -> Path:
    """Gemma-3: SigLIP 32x32 / patch 8 (16 patches) pooled to 4 image tokens; 2-layer decoder."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3Processor
    from transformers.models.gemma3.image_processing_pil_gemma3 import Gemma3ImageProcessorPil

    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
    specials += ["<start_of_image>", "<end_of_image>", "<image_soft_token>"]
    tok = word_tokenizer(
        specials,
        {"pad_token": "<pad>", "eos_token": "<eos>", "bos_token": "<bos>"},
        {
            "image_token": "<image_soft_token>",
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
        },
    )
    ids = tok.convert_tokens_to_ids
    image_processor = Gemma3ImageProcessorPil(size={"height": 32, "width": 32})
    processor = Gemma3Processor(
        image_processor=image_processor,
        tokenizer=tok,
        chat_template=GEMMA_TEMPLATE,
        image_seq_length=4,
    )
    config = Gemma3Config(
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            query_pre_attn_scalar=16,
            max_position_embeddings=256,
            sliding_window=64,
            pad_token_id=ids("<pad>"),
            eos_token_id=[ids("<eos>"), ids("<end_of_turn>")],
            bos_token_id=ids("<bos>"),
        ),
        vision_config=dict(
            model_type="siglip_vision_model",
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
        ),
        mm_tokens_per_image=4,
        boi_token_index=ids("<start_of_image>"),
        eoi_token_index=ids("<end_of_image>"),
        image_token_index=ids("<image_soft_token>"),
    )
    return _save(Gemma3ForConditionalGeneration, config, processor, tok, out, seed)


def _save(model_cls, config, processor, tok, out: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    model = model_cls(config)
    gen = model.generation_config
    gen.pad_token_id = tok.pad_token_id
    gen.eos_token_id = config.get_text_config().eos_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
