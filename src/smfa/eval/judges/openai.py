"""The ``openai`` judge: any OpenAI-compatible chat endpoint, standard library only.

Works with vLLM, Ollama, llama.cpp's server and hosted APIs (``POST {base_url}/chat/completions``).
Each answer costs two requests (the ``fact`` and ``meaningful`` rubrics, package files under
``smfa/resources/prompts/``). The reply must be exactly one integer 0–10; anything else is a
failed attempt. Scores are cached on disk as soon as each arrives, so a run that fails part-way
loses nothing and a re-run sends no request for finished scores. Details: docs/metrics.md §6.2.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from smfa.errors import SmfaError
from smfa.eval.judges.base import RUBRICS, Judge, JudgeItem, as_items, fill_rubric, load_rubric
from smfa.io import write_json
from smfa.registry import JUDGES

_SCORE_RE = re.compile(r"(10|[0-9])")


class _Failed(Exception):
    """One failed attempt: ``reason`` for the final error, ``retry`` whether to try again."""

    def __init__(self, reason: str, retry: bool = True):
        super().__init__(reason)
        self.reason, self.retry = reason, retry


def parse_score(reply: str) -> int:
    """Strictly parse a judge reply: exactly one integer 0–10 (surrounding whitespace allowed)."""
    m = _SCORE_RE.fullmatch(reply.strip())
    if m is None:
        raise ValueError(f"unparseable judge reply {reply[:40]!r}")
    return int(m.group(1))


@JUDGES.register("openai")
class OpenAIJudge(Judge):
    """Judge through an OpenAI-compatible ``/chat/completions`` endpoint.

    ``base_url`` ends before ``/chat/completions`` (e.g. ``http://localhost:8000/v1``);
    ``api_key_env`` names the environment variable holding the key (no header when unset);
    ``cache_dir`` holds one JSON file per scored request (``None``: no disk cache);
    ``max_attempts`` bounds tries per request, sleeping ``backoff · 2^i`` (at most
    ``max_backoff``) seconds between them; ``timeout`` is per request in seconds.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str = "http://localhost:8000/v1",
        model: str = "gpt-4o-mini",
        api_key_env: str = "OPENAI_API_KEY",
        cache_dir: str | os.PathLike | None = None,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        timeout: float = 60.0,
        max_tokens: int = 4,
    ):
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        if backoff < 0 or max_backoff < 0:
            raise ValueError(f"backoff and max_backoff must be >= 0, got {backoff}, {max_backoff}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.max_attempts = max_attempts
        self.backoff, self.max_backoff = backoff, max_backoff
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.rubrics = {name: load_rubric(name) for name in RUBRICS}

    def score_many(self, items: Sequence[JudgeItem | dict]) -> list[tuple[float, float]]:
        """Score items in order (two requests each, cached); raises SmfaError on failure."""
        return [
            (float(self.rubric_score("fact", it)), float(self.rubric_score("meaningful", it)))
            for it in as_items(items)
        ]

    def rubric_score(self, rubric: str, item: JudgeItem) -> int:
        """Integer 0–10 for one rubric: from the cache, else from the endpoint (then cached)."""
        prompt = fill_rubric(self.rubrics[rubric], item)
        key = self.cache_key(rubric, prompt, item.answer)
        cached = self._cache_get(key)
        if cached is not None:
            return cached
        reply, value = self._ask(prompt)
        if self.cache_dir is not None:
            entry = {"judge": self.name, "model": self.model, "rubric": rubric}
            write_json(self._cache_path(key), entry | {"reply": reply, "score": value})
        return value

    def cache_key(self, rubric: str, prompt: str, answer: str) -> str:
        """sha256 of (judge name, model, rubric name, rubric text, prompt, answer)."""
        blob = json.dumps(
            [self.name, self.model, rubric, self.rubrics[rubric], prompt, answer],
            ensure_ascii=False,
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _cache_path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def _cache_get(self, key: str) -> int | None:
        if self.cache_dir is None:
            return None
        path = self._cache_path(key)
        if not path.is_file():
            return None
        try:
            value = json.loads(path.read_text("utf-8"))["score"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # unreadable entry: ask again and overwrite it
        return value if isinstance(value, int) and 0 <= value <= 10 else None

    def _ask(self, prompt: str) -> tuple[str, int]:
        failure = _Failed("no attempt made")
        for attempt in range(1, self.max_attempts + 1):
            try:
                reply = self._request(prompt)
                try:
                    return reply, parse_score(reply)
                except ValueError as e:
                    raise _Failed(str(e)) from None
            except _Failed as f:
                failure = f
                if not f.retry:
                    break
                if attempt < self.max_attempts:
                    time.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
        raise SmfaError(f"judge endpoint {self.url}: {failure.reason} after {attempt} attempts")

    def _request(self, prompt: str) -> str:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": self.max_tokens,
        }
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(
            self.url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                payload = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            hint = f" (is ${self.api_key_env} set?)" if e.code in (401, 403) else ""
            retry = e.code >= 500 or e.code in (408, 429)
            raise _Failed(f"HTTP {e.code}{hint}", retry=retry) from None
        except (urllib.error.URLError, OSError) as e:
            raise _Failed(f"connection failed ({getattr(e, 'reason', e)})") from None
        except (ValueError, UnicodeDecodeError):
            raise _Failed("malformed JSON response") from None
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise _Failed("response without choices[0].message.content") from None
        if not isinstance(content, str):
            raise _Failed("response content is not a string")
        return content
