"""User-facing errors: one line that names the file and the field, exit code 2."""

from __future__ import annotations


class SmfaError(Exception):
    """An error caused by the user's input (a file, a field, an option).

    The CLI prints ``error: <message>`` on one line and exits with code 2. The message should
    name the file and the field, e.g. ``bench/data/forget05.jsonl: line 3: field 'answer' is
    missing``.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))  # always one line


def where(path, field: str | None = None, line: int | None = None) -> str:
    """Format a location prefix ``path: line N: field 'x'`` for error messages."""
    parts = [str(path)]
    if line is not None:
        parts.append(f"line {line}")
    if field is not None:
        parts.append(f"field '{field}'")
    return ": ".join(parts)
