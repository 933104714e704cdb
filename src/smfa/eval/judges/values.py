"""Value normalisation for the rule judge: text → canonical tokens, numbers compared by value.

Pure functions (docs/metrics.md §6.1). :func:`tokens` turns an answer (or a key value) into
word, number and boundary tokens in which every way of writing the same value has the same
text: ``"$86,000"``, ``"$86k"``, ``"86 thousand dollars"`` and ``"$0.086M"`` all contain the
number token ``"86000"``; ``"twenty-one"`` is ``"21"``, ``"nineteen eighty-four"`` is
``"1984"``; ``"Grey"`` is ``"gray"``, ``"Kraków"`` is ``"krakow"``, ``"O−"`` is ``"o-"``.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

# --------------------------------------------------------------------------------------------
# Text


_CHAR_MAP = str.maketrans(
    {
        "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u0060": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"',
        "\u2212": "-", "\u2010": "-", "\u2011": "-",  # minus sign, hyphens
        "\u2013": " \u2013 ", "\u2014": " \u2013 ",  # en/em dash: a pause
        "\u00a0": " ", "\u2009": " ", "\u202f": " ",
    }
)  # fmt: skip
# Thousands grouped with a (narrow) no-break or thin space: "86 000" (typeset) → "86,000".
_GROUPED_RE = re.compile(r"(?<=\d)[\u00a0\u202f\u2009](?=\d{3}(?!\d))")
_BULLET_RE = re.compile(r"(?m)^[ \t]*(?:[-*+\u2022]|#{1,6})[ \t]+")
_NUMBERED_RE = re.compile(r"(?m)^[ \t]*\d{1,2}[.)][ \t]+(?=\S)")


def normalize(text: str) -> str:
    """Casefold; typographic quotes, minus signs and spaces to ASCII; accents stripped
    (``Kraków`` → ``krakow``); Markdown bullets, headings and numbered-list markers removed
    (a numbered marker only when at least two lines carry one, so ``"3. ..."`` alone stays)."""
    text = _GROUPED_RE.sub(",", text).translate(_CHAR_MAP)
    text = _BULLET_RE.sub("", text)
    if len(_NUMBERED_RE.findall(text)) >= 2:
        text = _NUMBERED_RE.sub("", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    return text.casefold()


#: Spelling variants that mean the same word, mapped to the benchmark's spelling.
WORD_FORMS = {
    "grey": "gray",
    "greyish": "grayish",
    "blonde": "blond",
    "violet": "purple",
    "tanned": "tan",
    "colour": "color",
    "coloured": "colored",
    "st": "street",
    "str": "street",
    "doctor": "dr",
    "anaemia": "anemia",
    "anaemic": "anemic",
    "coeliac": "celiac",
    "oedema": "edema",
    "centre": "center",
    "laboratories": "labs",
    "laboratory": "lab",
}

# --------------------------------------------------------------------------------------------
# Numbers

UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
TEENS = {
    w: 10 + i
    for i, w in enumerate(
        "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
    )
}
TENS = {
    w: 10 * (i + 2)
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
NUMBER_WORDS = frozenset(UNITS) | frozenset(TEENS) | frozenset(TENS) | frozenset(SCALES)
#: A multiplier written right after digits: "86k", "86 k", "0.086M", "1.2 million".
SUFFIXES = {"k": 1000, "thousand": 1000, "m": 10**6, "mn": 10**6, "million": 10**6}
SUFFIXES |= {"bn": 10**9, "billion": 10**9}
#: "one" after these words (or before "of") is a pronoun, not a number: "the one on the left".
_PRONOUN_ONE_BEFORE = frozenset("the this that which each every any another no some".split())


def parse_number(digits: str, suffix: str = "") -> Fraction | None:
    """Value of a digit string with optional thousands commas, decimals and a multiplier.

    ``"1,984"`` → 1984, ``"86,000.00"`` → 86000, ``("86", "k")`` → 86000,
    ``("0.086", "m")`` → 86000; malformed groupings (``"1,23"``) → None.
    """
    if not re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?", digits):
        return None
    value = Fraction(digits.replace(",", ""))
    if suffix:
        if suffix not in SUFFIXES:
            return None
        value *= SUFFIXES[suffix]
    return value


def number_text(value: Fraction) -> str:
    """Canonical text of a number: ``86000``, ``1.5`` (no trailing zeros, no exponent)."""
    if value.denominator == 1:
        return str(value.numerator)
    text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    return text.rstrip("0").rstrip(".")


def _sub_hundred(words: list[str]) -> int | None:
    """'eighty four' → 84, 'nineteen' → 19, 'seven' → 7; anything else → None."""
    if len(words) == 1:
        w = words[0]
        return UNITS.get(w, TEENS.get(w, TENS.get(w)))
    if len(words) == 2 and words[0] in TENS and words[1] in UNITS and words[1] != "zero":
        return TENS[words[0]] + UNITS[words[1]]
    return None


def words_to_number(words: list[str]) -> int | None:
    """Value of a run of English number words (hyphens already split, ``and`` allowed after a
    scale word), or None when the run is not one number.

    ``twenty one`` → 21; ``eighty six thousand`` → 86000; ``one hundred and twenty`` → 120;
    ``two thousand five`` → 2005; a year said as two pairs: ``nineteen eighty four`` → 1984,
    ``twenty twenty one`` → 2021; ``five six`` → None.
    """
    for i, w in enumerate(words):
        if w == "and" and not (0 < i < len(words) - 1 and words[i - 1] in SCALES):
            return None
    words = [w for w in words if w != "and"]
    if not words or any(w not in NUMBER_WORDS for w in words):
        return None
    # Year form: two sub-hundred groups without a scale word, the first >= 10.
    if not any(w in SCALES for w in words):
        for cut in (1, 2):
            first, second = _sub_hundred(words[:cut]), _sub_hundred(words[cut:])
            if first is not None and second is not None and first >= 10 and second >= 10:
                return 100 * first + second
        return _sub_hundred(words)
    total, group, chunk = 0, 0, []
    for w in [*words, "<end>"]:
        if w in SCALES or w == "<end>":
            if chunk:
                small = _sub_hundred(chunk)
                if small is None:
                    return None
                group += small
                chunk = []
            if w == "hundred":
                if group == 0 or group >= 100:
                    return None
                group *= 100
            elif w != "<end>":
                if group == 0:
                    return None
                total += group * SCALES[w]
                group = 0
        else:
            chunk.append(w)
    return total + group


def resolve_short_year(text: str, years: set[str]) -> str | None:
    """``"'84"`` → the one value of ``years`` (4-digit strings) ending in ``84``, else None."""
    tail = text.lstrip("'")
    hits = [y for y in years if len(y) == 4 and y.isdigit() and y[2:] == tail]
    return hits[0] if len(hits) == 1 else None


# --------------------------------------------------------------------------------------------
# Tokens


class Token(NamedTuple):
    """One token: ``kind`` is ``word``, ``number``, ``year2`` (``'84``), ``stop`` (sentence end:
    ``.``, ``!``, ``?``, newline; ``text`` is ``"?"`` for a question) or ``pause`` (clause
    boundary: ``, ; : ( ) " – /``)."""

    text: str
    kind: str


_RAW_RE = re.compile(
    r"""
      (?P<year2>'\d\d)(?![\w'])
    | (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<suffix>k|m|mn|bn)?(?!\w)
    | (?P<word>[^\W\d_]+(?:'[^\W\d_]+)*(?:[+\-](?!\w))?)
    | (?P<alnum>\w+)
    | (?P<stop>[.!?\u2026\n]+)
    | (?P<pause>[,;:()\[\]{}"\u2013/|])
    """,
    re.X,
)
#: A full stop after these is an abbreviation, not a sentence end ("Dr. Weber", "5 Oak St.").
ABBREVIATIONS = frozenset("dr mr mrs ms st str prof jr sr vs approx ca".split())
_NEGATIVE_CONTRACTION = re.compile(r"n't$")


def _raw_tokens(text: str) -> list[Token]:
    out: list[Token] = []
    for m in _RAW_RE.finditer(text):
        kind = m.lastgroup if m.lastgroup != "suffix" else "num"
        if m.group("year2"):
            out.append(Token(m.group("year2"), "year2"))
        elif m.group("num"):
            value = parse_number(m.group("num"), m.group("suffix") or "")
            out.append(Token(number_text(value), "number") if value is not None else Token(
                m.group(0), "word"))  # fmt: skip
        elif kind == "word":
            w = m.group("word")
            if w.endswith("'s"):
                w = w[:-2]  # possessive / "it's": "chen's" is "chen"
            out.append(Token(WORD_FORMS.get(w, w), "word"))
        elif kind == "alnum":
            out.append(Token(m.group("alnum"), "word"))
        elif kind == "stop":
            stop = m.group("stop")
            prev = out[-1] if out else None
            if (
                stop == "."
                and prev is not None
                and prev.kind == "word"
                and (prev.text in ABBREVIATIONS or len(prev.text) == 1)
            ):
                continue  # "Dr." / an initial
            out.append(Token("?" if "?" in stop else ".", "stop"))
        else:
            out.append(Token(m.group("pause"), "pause"))
    return out


def _merge_numbers(toks: list[Token]) -> list[Token]:
    """Number words → one number token; digits + a spaced multiplier word → one number."""
    out: list[Token] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.kind == "number" and i + 1 < len(toks) and toks[i + 1].kind == "word":
            nxt = toks[i + 1].text
            if nxt in ("k", "thousand", "million", "billion", "bn"):
                out.append(Token(number_text(Fraction(t.text) * SUFFIXES[nxt]), "number"))
                i += 2
                continue
        if t.kind == "word" and t.text in NUMBER_WORDS and t.text not in SCALES:
            j = i
            run: list[str] = []
            while j < len(toks) and toks[j].kind == "word":
                w = toks[j].text
                if w in NUMBER_WORDS or (w == "and" and run and run[-1] in SCALES):
                    run.append(w)
                    j += 1
                else:
                    break
            while run and run[-1] == "and":
                run.pop()
                j -= 1
            prev = out[-1].text if out and out[-1].kind == "word" else ""
            nxt = toks[j].text if j < len(toks) and toks[j].kind == "word" else ""
            pronoun = run == ["one"] and (prev in _PRONOUN_ONE_BEFORE or nxt in ("of", "ones"))
            value = None if pronoun else words_to_number(run)
            if value is not None:
                out.append(Token(str(value), "number"))
                i = j
                continue
        if t.kind == "word" and t.text == "single" and out and out[-1].text == "a":
            out.append(Token("1", "number"))  # "a single lesion"
            i += 1
            continue
        out.append(t)
        i += 1
    return out


def tokens(text: str) -> list[Token]:
    """Canonical tokens of ``text`` (see the module docstring); currency symbols are dropped."""
    return _merge_numbers(_raw_tokens(normalize(text)))


def is_negative_contraction(word: str) -> bool:
    """``don't``, ``isn't``, ``can't`` (and their apostrophe-less forms) and ``cannot``."""
    return bool(_NEGATIVE_CONTRACTION.search(word)) or word in NEGATIVE_BARE


NEGATIVE_BARE = frozenset(
    "cannot dont cant wont isnt wasnt doesnt didnt arent werent couldnt wouldnt shouldnt "
    "hasnt havent hadnt aint".split()
)


@lru_cache(maxsize=65536)
def phrase(text: str) -> tuple[str, ...]:
    """The canonical word/number sequence of a key value or synonym, without a leading
    article: ``"a heart murmur"`` → ``("heart", "murmur")``, ``"$86,000"`` → ``("86000",)``."""
    seq = tuple(t.text for t in tokens(text) if t.kind in ("word", "number", "year2"))
    while len(seq) > 1 and seq[0] in ("a", "an", "the"):
        seq = seq[1:]
    return seq
