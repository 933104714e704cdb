"""The tiny default model: a 2-layer LLaVA with a word-level tokenizer, built from a config.

``build(out_dir, corpus)`` writes a complete ``save_pretrained`` folder (config, safetensors
weights, tokenizer, image processor, LLaVA processor, chat template) that
:func:`smfa.models.load` loads like any Hugging Face model. Same corpus, config and seed give
byte-identical files.

Tokenizer (word level, built with ``tokenizers``):

- normalizer: NFKC, runs of whitespace collapsed to one space, ends stripped; case is kept
  unless ``TinyConfig.lowercase`` (answers then decode exactly as the benchmark wrote them);
- pre-tokenizer: Metaspace (``▁`` marks a preceding space) then one piece per word or per
  punctuation mark; numbers and words with inner ``' . , : / -`` stay whole (``85,000``,
  ``1984-05-02``, ``don't``), so the key values of answers are single tokens;
- decoder: Metaspace, so ``decode(encode(text)) == text`` for in-vocabulary text;
- vocabulary: ``<pad> <unk> <s> </s> <image>`` then every piece of the corpus, sorted; a word
  seen only glued to punctuation (``(Paris``) also gets its spaced form. Unknown words map to
  ``<unk>``.

Chat template: ``<s>user :<image> {question} assistant : {answer}</s>`` (``<image>`` only when
the turn has an image; the generation prompt ends with ``assistant :``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from smfa.io import staged_dir

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>", "<image>")
SPLIT_PATTERN = r"▁?\w+(?:['’.,:/-]\w+)*|▁?[^\w\s]"
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{{ m['role'] }} :"
    "{% if m['content'] is string %} {{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>"
    "{% elif c['type'] == 'text' %} {{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{% if m['role'] == 'assistant' %}{{ eos_token }}{% else %} {% endif %}{% endfor %}"
    "{% if add_generation_prompt %}assistant :{% endif %}"
)
TEMPLATE_WORDS = ("user :", "assistant :", "system :")


@dataclass
class TinyConfig:
    """Shape of the tiny LLaVA (CLIP vision tower + Llama decoder) and its tokenizer."""

    image_size: int = 32  # input images are resized/cropped to this square (pixels)
    patch_size: int = 8  # vision patch size; image tokens = (image_size / patch_size) ** 2
    vision_hidden_size: int = 64
    vision_intermediate_size: int = 128
    vision_layers: int = 2
    vision_heads: int = 4
    hidden_size: int = 128  # decoder width
    intermediate_size: int = 256  # decoder MLP width
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 4
    max_position_embeddings: int = 256  # longest prompt + answer, image tokens included
    tie_word_embeddings: bool = False
    lowercase: bool = False  # lowercase all text in the tokenizer (smaller vocabulary)
    # Init std of the vision position embeddings. CLIP's 0.02 is tiny next to the patch
    # embeddings of a from-scratch tower, so where a shape sits barely shows in its features;
    # 1.0 makes position as loud as content (measured: docs/results.md).
    vision_position_std: float = 0.02

    def __post_init__(self):
        for name, value in asdict(self).items():
            if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
                raise ValueError(f"TinyConfig.{name} must be a positive integer, got {value!r}")
        if not self.vision_position_std > 0:
            raise ValueError(
                f"TinyConfig.vision_position_std must be > 0, got {self.vision_position_std!r}"
            )
        if self.image_size % self.patch_size:
            raise ValueError(
                f"TinyConfig.image_size ({self.image_size}) must be a multiple of "
                f"patch_size ({self.patch_size})"
            )
        for width, heads, field in (
            (self.vision_hidden_size, self.vision_heads, "vision_hidden_size"),
            (self.hidden_size, self.num_heads, "hidden_size"),
        ):
            if width % heads:
                raise ValueError(f"TinyConfig.{field} ({width}) must be divisible by {heads} heads")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"TinyConfig.num_heads ({self.num_heads}) must be a multiple of "
                f"num_kv_heads ({self.num_kv_heads})"
            )
        if self.max_position_embeddings <= self.image_tokens + 8:
            raise ValueError(
                f"TinyConfig.max_position_embeddings ({self.max_position_embeddings}) leaves no "
                f"room for text after {self.image_tokens} image tokens"
            )

    @property
    def image_tokens(self) -> int:
        """Number of ``<image>`` tokens one image takes in the prompt."""
        return (self.image_size // self.patch_size) ** 2


def _normalizer(lowercase: bool):
    from tokenizers import Regex, normalizers

    steps = [normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()]
    return normalizers.Sequence(steps + ([normalizers.Lowercase()] if lowercase else []))


def _pre_tokenizer():
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
        ]
    )


def vocabulary(corpus: Iterable[str], lowercase: bool = False) -> list[str]:
    """Special tokens followed by every word/punctuation piece of ``corpus``, sorted."""
    norm, pre = _normalizer(lowercase), _pre_tokenizer()
    pieces: set[str] = set()
    for text in [*corpus, *TEMPLATE_WORDS]:
        for special in SPECIALS:
            text = text.replace(special, " ")
        for piece, _ in pre.pre_tokenize_str(norm.normalize_str(text)):
            pieces.add(piece)
            if piece[0].isalnum():  # a word seen glued to punctuation also gets its spaced form
                pieces.add("▁" + piece)
    pieces.discard("▁")
    return list(SPECIALS) + sorted(pieces - set(SPECIALS))


def build_tokenizer(corpus: Iterable[str], lowercase: bool = False):
    """A word-level ``PreTrainedTokenizerFast`` over the words of ``corpus`` (see module doc)."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(vocabulary(corpus, lowercase))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = _normalizer(lowercase)
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        extra_special_tokens={"image_token": "<image>"},
        chat_template=CHAT_TEMPLATE,
        model_max_length=None,
    )


def build_processor(tokenizer, cfg: TinyConfig):
    """LlavaProcessor: PIL image processor (no torchvision needed) + the word-level tokenizer."""
    from transformers import LlavaProcessor
    from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

    side = cfg.image_size
    image_processor = LlavaImageProcessorPil(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side}
    )
    # CLIP adds a CLS token (+1) that the "default" strategy drops again (-1).
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=cfg.patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )


def build_model(tokenizer, cfg: TinyConfig, seed: int = 0):
    """A randomly initialised ``LlavaForConditionalGeneration`` (seeded, caller RNG untouched)."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    vision = CLIPVisionConfig(
        image_size=cfg.image_size,
        patch_size=cfg.patch_size,
        hidden_size=cfg.vision_hidden_size,
        intermediate_size=cfg.vision_intermediate_size,
        num_hidden_layers=cfg.vision_layers,
        num_attention_heads=cfg.vision_heads,
        projection_dim=cfg.vision_hidden_size,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=cfg.tie_word_embeddings,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,  # -2 (the default) would skip the last of only 2 layers
        vision_feature_select_strategy="default",
        tie_word_embeddings=cfg.tie_word_embeddings,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(config)
        positions = model.model.vision_tower.embeddings.position_embedding.weight
        with torch.no_grad():
            positions.normal_(0.0, cfg.vision_position_std)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model.eval()


def build(
    out_dir: str | Path,
    corpus: Iterable[str],
    cfg: TinyConfig | None = None,
    seed: int = 0,
) -> Path:
    """Build the tiny default model over the words of ``corpus`` and save it to ``out_dir``.

    ``corpus`` should hold every text the model will read or write (benchmark questions and
    answers, refusals, attack templates); other words become ``<unk>``. Writes the model
    (safetensors), tokenizer, processor and chat template atomically (an existing ``out_dir``
    is replaced) and returns its path; load it with :func:`smfa.models.load`.
    """
    cfg = cfg or TinyConfig()
    tokenizer = build_tokenizer(corpus, lowercase=cfg.lowercase)
    processor = build_processor(tokenizer, cfg)
    model = build_model(tokenizer, cfg, seed=seed)
    out_dir = Path(out_dir)
    with staged_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
    return out_dir


def num_parameters(model) -> int:
    """Total parameter count of a model."""
    return sum(p.numel() for p in model.parameters())
