"""Load any Hugging Face image-text-to-text model and its processor from a local folder.

One entry point, :func:`load`, used by every stage (training, unlearning, evaluation, attacks).
It loads what ``AutoModelForImageTextToText`` and ``AutoProcessor`` load (LLaVA, LLaVA-OneVision,
Qwen2-VL / Qwen2.5-VL, Idefics3 / SmolVLM, Gemma-3, the tiny default model ...), safetensors
only, and turns the usual failure modes into one-line :class:`~smfa.errors.SmfaError` messages
that name the folder. The literal name ``tiny`` is resolved by the caller, not here.
"""

from __future__ import annotations

from pathlib import Path

from smfa.errors import SmfaError
from smfa.io import check_no_pickle, read_json

DTYPES = ("float32", "float16", "bfloat16")


def _torch_dtype(dtype: str):
    import torch

    if dtype not in DTYPES:
        raise SmfaError(f"dtype '{dtype}': unknown; choose one of {', '.join(DTYPES)}")
    return getattr(torch, dtype)


def check_model_dir(path: str | Path, allow_pickle: bool = False):
    """Validate a model folder and return its config (raises SmfaError naming the folder).

    Checks, in order: the folder exists, it holds ``config.json``, its weights are not
    pickle-only (unless ``allow_pickle``), and the config is an image-text-to-text model.
    """
    from transformers import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING, AutoConfig

    path = Path(path)
    if not path.is_dir():
        raise SmfaError(f"{path}: model folder not found")
    if not (path / "config.json").is_file():
        raise SmfaError(f"{path}: no config.json (not a save_pretrained model folder)")
    check_no_pickle(path, allow_pickle=allow_pickle)
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    except Exception as e:  # unknown model_type, malformed JSON, ...
        msg = " ".join(str(e).split())[:200]
        raise SmfaError(f"{path / 'config.json'}: cannot read model config ({msg})") from None
    if type(config) not in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING:
        raise SmfaError(
            f"{path / 'config.json'}: field 'model_type' is '{config.model_type}', "
            "not an image-text-to-text model (AutoModelForImageTextToText cannot load it)"
        )
    return config


def load(
    name_or_path: str,
    dtype: str = "float32",
    device: str = "cpu",
    allow_pickle: bool = False,
):
    """Load ``(model, processor)`` from a local model folder (``save_pretrained`` layout).

    Args:
        name_or_path: folder holding ``config.json``, safetensors weights and the processor files.
        dtype: ``float32`` (default, CPU), ``float16`` or ``bfloat16``.
        device: where to put the model, e.g. ``cpu`` or ``cuda:0``.
        allow_pickle: also accept pickle weights (``pytorch_model.bin``); only for trusted files.

    The model is returned in eval mode. Raises SmfaError (one line naming the folder) for a
    missing folder, a folder without ``config.json``, pickle-only weights, a config that is
    not an image-text-to-text model, or a folder without a loadable processor.
    """
    from transformers import AutoModelForImageTextToText

    path = Path(name_or_path)
    check_model_dir(path, allow_pickle=allow_pickle)
    torch_dtype = _torch_dtype(dtype)
    processor = load_processor(path)
    if not hasattr(processor, "tokenizer") or not hasattr(processor, "apply_chat_template"):
        raise SmfaError(f"{path}: no multimodal processor (processor_config.json) in the folder")
    if getattr(processor, "chat_template", None) is None:
        raise SmfaError(f"{path}: the processor has no chat template (chat_template.jinja)")
    try:
        model = AutoModelForImageTextToText.from_pretrained(
            path, dtype=torch_dtype, use_safetensors=not allow_pickle or None
        )
    except Exception as e:  # OSError, safetensors' header errors, shape mismatches ...
        msg = " ".join(str(e).split())[:200]
        raise SmfaError(
            f"{path}: cannot load the model weights ({type(e).__name__}: {msg})"
        ) from None
    model.to(device)
    model.eval()
    return model, processor


def without_video(processor_cls):
    """A subclass of ``processor_cls`` built without its video processor (images only).

    transformers 5.23 cannot build a video processor without torchvision (there is no CPU
    build of it here), so ``AutoProcessor`` fails on families that declare one (Qwen2-VL,
    Qwen2.5-VL, LLaVA-OneVision ...). smfa never feeds videos; this keeps their images working.
    The subclass keeps the parent's name, so ``save_pretrained`` writes the usual files, and
    the parent's ``__init__`` signature (less ``video_processor``): transformers reads that
    signature to choose which settings to save and load (LLaVA-OneVision's
    ``num_image_tokens``, ``vision_aspect_ratio`` ... would be dropped otherwise).
    """
    import inspect

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        kwargs.pop("video_processor", None)
        processor_cls.__init__(
            self,
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=None,
            chat_template=chat_template,
            **kwargs,
        )

    sig = inspect.signature(processor_cls.__init__)
    params = [p for name, p in sig.parameters.items() if name != "video_processor"]
    __init__.__signature__ = sig.replace(parameters=params)  # what save_pretrained writes
    names = tuple(p.name for p in params[1:] if p.kind is p.POSITIONAL_OR_KEYWORD)

    def validate_init_kwargs(processor_config, valid_kwargs):
        # from_pretrained keeps only the settings named by __init__'s code: the parent's.
        return processor_cls.validate_init_kwargs(processor_config, (*valid_kwargs, *names))

    attrs = {
        "__init__": __init__,
        "__module__": processor_cls.__module__,
        "validate_init_kwargs": staticmethod(validate_init_kwargs),
    }
    return type(processor_cls.__name__, (processor_cls,), attrs)


def load_processor(path: str | Path):
    """``AutoProcessor`` for a model folder, falling back to :func:`without_video`."""
    import transformers
    from transformers import AutoProcessor

    path = Path(path)
    try:
        return AutoProcessor.from_pretrained(path)
    except Exception as e:
        error = " ".join(str(e).split())[:200]
    cfg_file = path / "processor_config.json"
    name = read_json(cfg_file).get("processor_class", "") if cfg_file.is_file() else ""
    cls = getattr(transformers, name, None) if name else None
    if cls is not None and "video_processor" in cls.get_attributes():
        try:
            return without_video(cls).from_pretrained(path)
        except Exception:
            pass
    raise SmfaError(f"{path}: cannot load the processor ({error})")


def supports_images(model) -> bool:
    """True when ``model`` has a vision tower (its config has a ``vision_config``)."""
    return getattr(getattr(model, "config", None), "vision_config", None) is not None


def _image_of(item):
    return item[0] if isinstance(item, (tuple, list)) else getattr(item, "image", None)


def require_images(model, items, source: str = "input") -> None:
    """Raise SmfaError when image questions are given to a model without a vision tower.

    ``items`` are ``(image_or_None, question, ...)`` tuples or objects with an ``image``
    attribute (None or "" for text-only); ``source`` names where they came from (a split file)
    for the error message.
    """
    if supports_images(model):
        return
    n = sum(1 for it in items if _image_of(it) not in (None, ""))
    if n:
        name = type(model).__name__
        raise SmfaError(
            f"{source}: {n} question(s) have an image but the model ({name}) is text-only; "
            "use a multimodal model or only text-memory questions"
        )
