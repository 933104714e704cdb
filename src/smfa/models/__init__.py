"""Models: load any Hugging Face image-text-to-text model, format its inputs, build the tiny one.

- :func:`load` — ``(model, processor)`` from a local folder, safetensors only (``load.py``);
- :mod:`smfa.models.format` — chat-template prompts, training labels, generation batches;
- :func:`answer_logits` — logits of the answer window only, for losses (``forward.py``);
- :mod:`smfa.models.tiny` — the tiny default LLaVA built from a config.
"""

from smfa.models.forward import answer_logits
from smfa.models.load import check_model_dir, load, require_images, supports_images

__all__ = ["answer_logits", "check_model_dir", "load", "require_images", "supports_images"]
