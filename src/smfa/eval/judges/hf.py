"""The ``hf`` judge: a local causal LM scores the rubric replies "0".."10" by likelihood.

For each rubric prompt (the package rubrics of the ``openai`` judge, chat template applied when
the tokenizer has one) the 11 candidate replies ``" 0"`` … ``" 10"`` are scored by the sum of
their token log-probs and the argmax is the score (ties → the lowest). No sampling, so the
result is deterministic. Only safetensors weights are loaded. Details: docs/metrics.md §6.3.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from smfa.errors import SmfaError
from smfa.eval.judges.base import RUBRICS, Judge, JudgeItem, as_items, fill_rubric, load_rubric
from smfa.io import check_no_pickle
from smfa.registry import JUDGES

CANDIDATES = tuple(f" {i}" for i in range(11))


@JUDGES.register("hf")
class HFJudge(Judge):
    """Judge with a local ``AutoModelForCausalLM`` loaded from ``path`` (a folder).

    ``device`` / ``dtype`` are chosen by the caller (``"cpu"``, ``"float32"`` by default).
    """

    name = "hf"

    def __init__(
        self,
        path: str | os.PathLike,
        device: str = "cpu",
        dtype: str = "float32",
        allow_pickle: bool = False,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        if not path.is_dir():
            raise SmfaError(f"{path}: hf judge model folder not found")
        check_no_pickle(path, allow_pickle=allow_pickle)
        if not hasattr(torch, dtype) or not isinstance(getattr(torch, dtype), torch.dtype):
            raise ValueError(f"dtype: unknown torch dtype {dtype!r}")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(
            path, dtype=getattr(torch, dtype), use_safetensors=not allow_pickle
        ).to(device)
        self.model.eval()
        self.device = device
        self.rubrics = {name: load_rubric(name) for name in RUBRICS}
        self._cand_ids = [
            self.tokenizer(c, add_special_tokens=False)["input_ids"] for c in CANDIDATES
        ]

    def score_many(self, items: Sequence[JudgeItem | dict]) -> list[tuple[float, float]]:
        """Score items in order: ``(fact, meaningful)`` integers 0..10 as floats."""
        return [
            (
                float(self.rubric_score(fill_rubric(self.rubrics["fact"], it))),
                float(self.rubric_score(fill_rubric(self.rubrics["meaningful"], it))),
            )
            for it in as_items(items)
        ]

    def _prompt_ids(self, prompt: str) -> list[int]:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            out = tok.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True
            )
            ids = out["input_ids"] if hasattr(out, "keys") else out
            return list(ids)
        return list(tok(prompt)["input_ids"])

    def candidate_logprobs(self, prompt: str) -> list[float]:
        """Sum of token log-probs of each candidate ``" 0"``…``" 10"`` after ``prompt``."""
        import torch

        prompt_ids = self._prompt_ids(prompt)
        seqs = [prompt_ids + c for c in self._cand_ids]
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=self.device)
        mask = torch.tensor(
            [[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=self.device
        )
        with torch.no_grad():
            logits = self.model(input_ids=input_ids, attention_mask=mask).logits.float()
        logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
        token_lp = logprobs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        start = len(prompt_ids) - 1  # position predicting the first candidate token
        out = []
        for i, cand in enumerate(self._cand_ids):
            if not cand:
                out.append(float("-inf"))
            else:
                out.append(float(token_lp[i, start : start + len(cand)].sum()))
        return out

    def rubric_score(self, prompt: str) -> int:
        """Argmax over the candidate scores (first maximum on ties)."""
        lps = self.candidate_logprobs(prompt)
        return max(range(len(lps)), key=lambda i: (lps[i], -i))
