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


def corpus_words(corpus=None) -> list[str]:
    """WORDS plus every whitespace/punctuation piece of ``corpus`` (texts), sorted."""
    from tokenizers import pre_tokenizers

    pre = pre_tokenizers.Whitespace()
    words = set(WORDS)
    for text in corpus or ():
        words.update(piece for piece, _ in pre.pre_tokenize_str(text))
    return sorted(words)


def word_tokenizer(specials: list[str], named: dict[str, str], extra: dict[str, str], corpus=None):
    """A whitespace/punctuation word-level tokenizer over WORDS (+ the words of ``corpus``)
    with the given special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = [w for w in corpus_words(corpus) if w not in specials]
    vocab = {t: i for i, t in enumerate([*specials, *words])}
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


def build_qwen2_vl(out: Path, seed: int = 0, corpus=None) -> Path:
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
        corpus,
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


def build_gemma3(out: Path, seed: int = 0, corpus=None) -> Path:
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
        corpus,
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


def _qwen_tokenizer(corpus):
    specials = ["<pad>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    specials += ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    return word_tokenizer(
        specials,
        {"pad_token": "<pad>", "eos_token": "<|im_end|>"},
        {"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
        corpus,
    )


def build_qwen2_5_vl(out: Path, seed: int = 0, corpus=None) -> Path:
    """Qwen2.5-VL (real: 28 layers x 3584, ViT 32 x 1280, window 112, full attention in
    blocks 7/15/23/31): 2 decoder layers x 64; ViT 2 x 32, window 32 px, full attention in
    block 1; 32x32 images, patch 8, merge 2 -> 4 image tokens."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
    )
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    tok = _qwen_tokenizer(corpus)
    ids = tok.convert_tokens_to_ids
    image_processor = Qwen2VLImageProcessorPil(
        min_pixels=32 * 32, max_pixels=32 * 32, patch_size=8, temporal_patch_size=2, merge_size=2
    )
    processor = without_video(Qwen2_5_VLProcessor)(
        image_processor=image_processor, tokenizer=tok, chat_template=QWEN_TEMPLATE
    )
    config = Qwen2_5_VLConfig(
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
            hidden_size=32,
            intermediate_size=64,
            num_heads=4,
            patch_size=8,
            spatial_merge_size=2,
            temporal_patch_size=2,
            window_size=32,
            out_hidden_size=64,
            fullatt_block_indexes=[1],
        ),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    return _save(Qwen2_5_VLForConditionalGeneration, config, processor, tok, out, seed)


# llava-hf/llava-1.5-7b-hf's template: no end-of-turn token after the answer (the formatter
# appends eos so that the model learns to stop).
LLAVA15_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}{% endfor %}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def build_llava15(out: Path, seed: int = 0, corpus=None) -> Path:
    """LLaVA-1.5 (real: CLIP ViT-L/14 336 px, 24 x 1024, feature layer -2; Vicuna 32 x 4096):
    CLIP 32 px / patch 8 (16 image tokens), 3 x 32, feature layer -2; Llama 2 x 64."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    specials = ["<unk>", "<s>", "</s>", "<image>", "<pad>"]
    tok = word_tokenizer(
        specials,
        {"pad_token": "<pad>", "eos_token": "</s>", "bos_token": "<s>"},
        {"image_token": "<image>"},
        corpus,
    )
    ids = tok.convert_tokens_to_ids
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA15_TEMPLATE,
    )
    config = LlavaConfig(
        vision_config=dict(
            model_type="clip_vision_model",
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=4,
            projection_dim=32,
        ),
        text_config=dict(
            model_type="llama",
            vocab_size=len(tok),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=256,
            pad_token_id=ids("<pad>"),
            bos_token_id=ids("<s>"),
            eos_token_id=ids("</s>"),
        ),
        image_token_id=ids("<image>"),
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    return _save(LlavaForConditionalGeneration, config, processor, tok, out, seed)


# llava-hf/llava-onevision-qwen2-7b-ov-hf's template.
ONEVISION_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + ' '}}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>' }}{% endfor %}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ '\n' + content['text'] }}{% endfor %}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ '\n' + content['text'] }}{% endgeneration %}{% endfor %}{% endif %}"
    "{{'<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def bpe_tokenizer(
    specials: list[str], named: dict[str, str], extra: dict[str, str], corpus=None, size=400
):
    """A byte-level BPE tokenizer (Qwen2's kind: GPT-2 regex, no prefix space) trained on
    WORDS + ``corpus``, with the given special tokens. Unlike the word-level ones it keeps
    spaces and newlines, so prompt/answer boundaries tokenize as they do on the real model."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([" ".join(WORDS), *(corpus or ())], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, extra_special_tokens=extra, **named)


def build_llava_onevision(out: Path, seed: int = 0, corpus=None) -> Path:
    """LLaVA-OneVision (real: SigLIP 384 px / 14, 26 x 1152; Qwen2 28 x 3584; anyres_max_9
    tiling over 384-px crops): SigLIP 16 px / patch 8 (4 tokens per crop), 2 x 32; Qwen2
    2 x 64; pinpoints up to 32x32, so a 32-px image is one base crop + 2x2 tiles. Byte-level
    BPE tokenizer, as the real one."""
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionProcessor,
    )
    from transformers.models.llava_onevision.image_processing_pil_llava_onevision import (
        LlavaOnevisionImageProcessorPil,
    )

    specials = ["<pad>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    specials += ["<image>", "<video>"]
    tok = bpe_tokenizer(
        specials,
        {"pad_token": "<pad>", "eos_token": "<|im_end|>"},
        {"image_token": "<image>", "video_token": "<video>"},
        corpus,
    )
    ids = tok.convert_tokens_to_ids
    pinpoints = [[16, 16], [16, 32], [32, 16], [32, 32]]
    image_processor = LlavaOnevisionImageProcessorPil(
        size={"height": 16, "width": 16}, image_grid_pinpoints=pinpoints
    )
    processor = without_video(LlavaOnevisionProcessor)(
        image_processor=image_processor,
        tokenizer=tok,
        num_image_tokens=4,
        vision_feature_select_strategy="full",
        chat_template=ONEVISION_TEMPLATE,
    )
    config = LlavaOnevisionConfig(
        vision_config=dict(
            model_type="siglip_vision_model",
            image_size=16,
            patch_size=8,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            vision_use_head=False,
        ),
        text_config=dict(
            model_type="qwen2",
            vocab_size=len(tok),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
            pad_token_id=ids("<pad>"),
            bos_token_id=ids("<|endoftext|>"),
            eos_token_id=ids("<|im_end|>"),
        ),
        image_token_index=ids("<image>"),
        video_token_index=ids("<video>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_grid_pinpoints=pinpoints,
    )
    return _save(LlavaOnevisionForConditionalGeneration, config, processor, tok, out, seed)


# HuggingFaceM4/Idefics3-8B-Llama3's template.
IDEFICS3_TEMPLATE = (
    "<|begin_of_text|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def build_idefics3(out: Path, seed: int = 0, corpus=None) -> Path:
    """Idefics3 (real: SigLIP 364 px / 14, 27 x 1152, scale factor 2 -> 169 tokens per tile;
    Llama-3 32 x 4096; image splitting): SigLIP 32 px / patch 8, 2 x 32, scale factor 2 ->
    4 tokens; Llama 2 x 64; no image splitting (one global image)."""
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor
    from transformers.models.idefics3.image_processing_pil_idefics3 import (
        Idefics3ImageProcessorPil,
    )

    specials = ["<pad>", "<unk>", "<|begin_of_text|>", "<|end_of_text|>"]
    specials += ["<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>"]
    tok = word_tokenizer(
        specials,
        {"pad_token": "<pad>", "eos_token": "<end_of_utterance>", "bos_token": "<|begin_of_text|>"},
        {},
        corpus,
    )
    ids = tok.convert_tokens_to_ids
    image_processor = Idefics3ImageProcessorPil(
        do_image_splitting=False,
        size={"longest_edge": 32},
        max_image_size={"longest_edge": 32},
    )
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tok,
        image_seq_len=4,
        chat_template=IDEFICS3_TEMPLATE,
    )
    config = Idefics3Config(
        vision_config=dict(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
        ),
        text_config=dict(
            model_type="llama",
            vocab_size=len(tok),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=256,
            pad_token_id=ids("<pad>"),
            bos_token_id=ids("<|begin_of_text|>"),
            eos_token_id=ids("<end_of_utterance>"),
        ),
        image_token_id=ids("<image>"),
        scale_factor=2,
        pad_token_id=ids("<pad>"),
    )
    return _save(Idefics3ForConditionalGeneration, config, processor, tok, out, seed)


FAMILIES = {
    "llava15": build_llava15,
    "llava_onevision": build_llava_onevision,
    "qwen2_5_vl": build_qwen2_5_vl,
    "idefics3": build_idefics3,
    "gemma3": build_gemma3,
}


def _save(model_cls, config, processor, tok, out: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    model = model_cls(config)
    gen = model.generation_config
    gen.pad_token_id = tok.pad_token_id
    gen.eos_token_id = config.get_text_config().eos_token_id
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


# -- the smoke pipeline on a family (tests/test_families_e2e.py, benchmarks/family_smoke.py) --
SMOKE_BENCH = dict(
    profiles=10,
    seed=0,
    image_size=32,
    scenes_train=4,
    scenes_eval=2,
    unseen=2,
    holdout=2,
    strangers=2,
    retain_few=2,
    quiet=True,
)
SMOKE_TRAIN = {
    "model": {},
    "train": {
        "max_steps": 2,
        "batch_size": 8,
        "lr": 0.001,
        "seed": 0,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target": "language"},
    },
}
SMOKE_UNLEARN = {
    "train": {
        "max_steps": 2,
        "batch_size": 4,
        "lr": 0.001,
        "seed": 0,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target": "language"},
    },
    "options": {},
}
SMOKE_EVAL = {"max_samples": 3, "batch_size": 16, "max_new_tokens": 4}


def smoke_setup(root: Path):
    """Build the shared tiny bench and write the train/unlearn configs under ``root``;
    returns ``(root, bench, corpus)`` (corpus: every text the family tokenizers must cover)."""
    import yaml

    from smfa.bench import build, load
    from smfa.stages.train_original import corpus_texts

    bench = build(root / "bench", **SMOKE_BENCH)
    (root / "train.yaml").write_text(yaml.safe_dump(SMOKE_TRAIN))
    (root / "unlearn.yaml").write_text(yaml.safe_dump(SMOKE_UNLEARN))
    return root, bench, corpus_texts(load(bench))


def run_smoke(name: str, model: Path, root: Path, bench: Path) -> Path:
    """``smfa run`` on ``model``: original + retain-only, idk and smfa, k sweep [0], eval,
    report; returns the run folder ``root/runs/<name>``."""
    import yaml

    from smfa.pipeline import run

    cfg = {
        "name": name,
        "bench_dir": str(bench),
        "model": str(model),
        "train_config": str(root / "train.yaml"),
        "unlearn_config": str(root / "unlearn.yaml"),
        "forget": "forget10",
        "methods": {"idk": {"method": "idk"}, "smfa": {"method": "smfa"}},
        "sweep": {"k": [0]},
        "eval": SMOKE_EVAL,
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run(str(path), out=str(root / "runs"))
    return root / "runs" / name
