"""Which values an answer states, and how: the reading behind the rule judge's Fact score.

An answer is read as canonical tokens (:mod:`values`). A *mention* is a leftmost-longest
occurrence of a wording (:mod:`synonyms`) of a key value or of another value of the
attribute. Each mention is then

- ``ignored`` when it describes another feature: a one-word value attached to a feature noun
  that neither the question nor the gold answer is about ("a *red* shirt" when the question
  asks about the hair, "*2* circles" when it counts shapes, "the *left* eye"), or a number
  followed by "of" ("*one* of them");
- ``negated`` when a negation cue precedes it in its clause ("not", "no", "never",
  "don't", "isn't", "without", "rather than", ...) or a negated copula follows it
  ("1984 *is not* right");
- ``hedged`` when a possibility cue precedes it in its clause ("maybe", "perhaps",
  "possibly", "might", "could", "may be", "if", "whether", "I doubt"), when its sentence is a
  question, or when its sentence offers alternatives ("or" with two or more different values,
  or, for a number key, two different numbers of the key's length: "1984 or 2010");
- ``affirmed`` otherwise: "I think", "probably", "around", "based on the records" do not
  hedge (they still commit to one value).

Clauses end at ``. ! ? ; : , ( ) " –``, a newline, and the words "but", "however",
"although", "though", "yet", "whereas", "and". Exact rules and examples: docs/metrics.md §6.1.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

from smfa.eval.judges import values as V
from smfa.eval.judges.synonyms import alternatives

NEGATIONS = frozenset("not no never neither nor none without unlike except unlikely".split())
NEGATION_PHRASES = (("rather", "than"), ("instead", "of"), ("other", "than"), ("apart", "from"))
HEDGES = frozenset("maybe perhaps possibly possible might could unsure uncertain doubt".split())
HEDGES |= {"if", "whether"}
#: Word sequences that look like cues but are not: they are skipped when looking for cues.
NEUTRAL = (
    ("no", "doubt"),
    ("without", "a", "doubt"),
    ("without", "doubt"),
    ("not", "only"),
    ("if", "i", "recall"),
    ("if", "i", "remember"),
    ("if", "memory", "serves"),
    ("if", "i'm", "not", "mistaken"),
    ("if", "i", "am", "not", "mistaken"),
    ("not", "mistaken"),
)
CLAUSE_WORDS = frozenset("but however although though yet whereas and".split())
COPULAS = frozenset("is are was were be been looks look appears appear seems seem".split())
NEGATED_COPULAS = frozenset("isn't wasn't aren't weren't isnt wasnt arent werent".split())
POST_NEGATIONS = frozenset("not never incorrect wrong false".split())
YES_NO_OPENERS = frozenset("does do did is are was were has have".split())

# Feature nouns of the benchmark's images, grouped by what they name (templates.py).
_FEATURES = {
    "hair": "hair hairs haired",
    "eye": "eye eyes eyed iris irises",
    "skin": "skin skinned complexion",
    "clothing": "shirt shirts clothes clothing top jacket sweater t outfit dress blouse hoodie "
    "jumper tee",
    "background": "background backdrop wall",
    "lesion": "lesion lesions spot spots",
    "disc": "disc disk discs",
    "vessel": "vessel vessels",
    "shape": "shape shapes object objects item items",
    "circle": "circle circles",
    "square": "square squares",
    "triangle": "triangle triangles",
    "hat": "hat hats cap caps beanie beanies headwear",
    "glasses": "glasses spectacles eyeglasses frames goggles",
}
FEATURE_NOUNS = {w: group for group, words in _FEATURES.items() for w in words.split()}
#: Words allowed between a one-word value and the feature noun it describes.
MODIFIERS = frozenset(
    "black brown blond red gray white blue green yellow purple orange pink tan light dark pale "
    "bright deep short long curly straight wavy thick thin colored solid plain striped shiny "
    "small large big little grayish reddish yellowish brownish whitish bluish greenish".split()
)
_BETWEEN = MODIFIERS | COPULAS | frozenset("the a an on at in to color tone count density".split())


class Mention(NamedTuple):
    """Words ``[start, end)`` of the answer state ``owner``'s value; ``status`` as above."""

    start: int
    end: int
    owner: Hashable
    status: str


class Lexicon:
    """A token trie of wordings: ``add(phrase, owner)``; later owners of a phrase win."""

    def __init__(self) -> None:
        self.root: dict = {}
        self.owners: set = set()
        self.years: set[str] = set()  # owners that are one 4-digit number (for "'84")
        self.absent: list = []  # owners that are an absence value ("no hat")

    def add(self, phrase: tuple[str, ...], owner: Hashable) -> None:
        if not phrase:
            return
        node = self.root
        for w in phrase:
            node = node.setdefault(w, {})
        node[None] = owner
        self.owners.add(owner)

    def longest(self, words: Sequence[str], i: int) -> tuple[int, Hashable] | None:
        """``(end, owner)`` of the longest wording starting at word ``i``, or None."""
        node, best = self.root, None
        for j in range(i, len(words)):
            node = node.get(words[j])
            if node is None:
                break
            if None in node:
                best = (j + 1, node[None])
        return best


@lru_cache(maxsize=512)
def value_lexicon(values: tuple[str, ...]) -> Lexicon:
    """Every wording of every value; the owner of a wording is the value's own phrase."""
    lex = Lexicon()
    for v in values:
        own = V.phrase(v)
        for alt in alternatives(v):
            lex.add(V.phrase(alt), own)
        _note(lex, own, own)
    return lex


def _note(lex: Lexicon, phrase: tuple[str, ...], owner: Hashable) -> None:
    if len(phrase) == 1 and len(phrase[0]) == 4 and phrase[0].isdigit():
        lex.years.add(phrase[0])
    if len(phrase) == 2 and phrase[0] == "no":
        lex.absent.append(owner)


@lru_cache(maxsize=4096)
def key_lexicon(keys: tuple[str, ...]) -> Lexicon:
    """Every wording of the keys; the owner is ``("key", index)``."""
    lex = Lexicon()
    for i, k in enumerate(keys):
        for alt in alternatives(k):
            lex.add(V.phrase(alt), ("key", i))
        _note(lex, V.phrase(k), ("key", i))
    return lex


class Reading(NamedTuple):
    """An answer as words with their sentence and clause numbers."""

    words: list[str]
    sentence: list[int]
    clause: list[int]
    pause_after: list[bool]
    questions: frozenset[int]


def read(tokens: Iterable[V.Token]) -> Reading:
    """Words (word, number and short-year tokens) with sentence/clause numbers."""
    words, sentence, clause, pause_after, questions = [], [], [], [], set()
    s = c = 0
    for t in tokens:
        if t.kind == "stop":
            if t.text == "?":
                questions.add(s)
            s, c = s + 1, c + 1
        elif t.kind == "pause":
            c += 1
            if words:
                pause_after[-1] = True
        else:
            if t.text in CLAUSE_WORDS:
                c += 1
            words.append(t.text)
            sentence.append(s)
            clause.append(c)
            pause_after.append(False)
    return Reading(words, sentence, clause, pause_after, frozenset(questions))


@lru_cache(maxsize=4096)
def feature_groups(text: str) -> frozenset[str]:
    """The feature-noun groups a text names (the question and gold answer: what is asked)."""
    return frozenset(FEATURE_NOUNS[t.text] for t in V.tokens(text) if t.text in FEATURE_NOUNS)


def _bound_elsewhere(r: Reading, start: int, end: int, own: frozenset[str]) -> bool:
    """A one-word value that describes another feature than the one asked about: followed by
    that feature's noun ("red *shirt*", "2 *circles*", "left *eye*", up to 3 modifiers
    between) or, failing that, preceded by it ("the *circle* is on the left", "*Hair*: brown",
    up to 5 copulas, prepositions, modifiers or "color"/"tone"/"count" between)."""
    w, n = r.words, len(r.words)
    if end - start != 1:
        return False
    if w[start].isdigit() and end < n and w[end] == "of":
        return True  # "one of them", "2 of which"
    same = r.sentence[start]
    j = end
    while j < n and j - end < 3 and w[j] in MODIFIERS and r.sentence[j] == same:
        j += 1
    if j < n and r.sentence[j] == same and w[j] in FEATURE_NOUNS:
        return FEATURE_NOUNS[w[j]] not in own
    j = start - 1
    while j >= 0 and start - j <= 5 and r.sentence[j] == same and w[j] in _BETWEEN:
        j -= 1
    if j >= 0 and r.sentence[j] == same and w[j] in FEATURE_NOUNS:
        return FEATURE_NOUNS[w[j]] not in own
    return False


@lru_cache(maxsize=4096)
def _yes_no(question: str) -> bool:
    q = [t.text for t in V.tokens(question) if t.kind == "word"]
    return bool(q) and q[0] in YES_NO_OPENERS


def _covered_by(r: Reading, spans: Sequence[tuple[int, int]]) -> list[bool]:
    covered = [False] * len(r.words)
    for a, b in spans:
        for i in range(a, b):
            covered[i] = True
    for i in range(len(r.words)):
        for seq in NEUTRAL:
            if tuple(r.words[i : i + len(seq)]) == seq:
                for k in range(i, i + len(seq)):
                    covered[k] = True
    return covered


def _cues(r: Reading, covered: list[bool]) -> tuple[list[int], list[tuple[int, set[int]]]]:
    """Positions of negation cues, and hedge cues with the clauses they reach."""
    w = r.words
    neg, hedge = [], []
    for i, word in enumerate(w):
        if covered[i]:
            continue
        if word in NEGATIONS or V.is_negative_contraction(word):
            neg.append(i)
        elif any(tuple(w[i : i + 2]) == p for p in NEGATION_PHRASES):
            neg.append(i)
        elif word in HEDGES or (word == "may" and i + 1 < len(w) and w[i + 1] in ("be", "have")):
            reach = {r.clause[i]}
            if r.pause_after[i]:  # "Maybe, 1984": the cue carries over the comma
                reach.add(r.clause[i] + 1)
            hedge.append((i, reach))
    return neg, hedge


def _post_negated(r: Reading, end: int) -> bool:
    """``<value> is not ...``, ``<value> isn't ...``, ``<value> is wrong``."""
    w, n = r.words, len(r.words)
    if end >= n or r.clause[end] != r.clause[end - 1]:
        return False
    if w[end] in NEGATED_COPULAS:
        return True
    return (
        w[end] in COPULAS
        and end + 1 < n
        and r.clause[end + 1] == r.clause[end]
        and (w[end + 1] in POST_NEGATIONS or V.is_negative_contraction(w[end + 1]))
    )


def find(
    answer: str,
    keys: tuple[str, ...],
    values: tuple[str, ...],
    *,
    question: str = "",
    gold: str = "",
) -> list[Mention]:
    """Every mention of a key (owner ``("key", i)``) or another value (owner: its phrase)."""
    klex, vlex = key_lexicon(keys), value_lexicon(values)
    key_of = {V.phrase(k): ("key", i) for i, k in enumerate(keys)}
    years = klex.years | vlex.years
    toks = []
    for t in V.tokens(answer):
        if t.kind == "year2":
            year = V.resolve_short_year(t.text, years)
            t = V.Token(year, "number") if year else t
        toks.append(t)
    r = read(toks)
    w, n = r.words, len(r.words)

    spans: list[tuple[int, int, Hashable]] = []
    i = 0
    while i < n:
        hk, hv = klex.longest(w, i), vlex.longest(w, i)
        best = hk if hk and (not hv or hk[0] >= hv[0]) else hv
        if best is None:
            i += 1
            continue
        end, owner = best
        spans.append((i, end, key_of.get(owner, owner)))
        i = end

    # A bare "No" to a yes/no question about a feature that has an absence value ("no hat").
    yes_no = False
    if n and w[0] == "no" and not (spans and spans[0][0] == 0) and _yes_no(question):
        if n == 1 or r.pause_after[0] or r.sentence[1] != r.sentence[0]:
            absent = klex.absent + vlex.absent
            if absent:
                spans.insert(0, (0, 1, key_of.get(absent[0], absent[0])))
                yes_no = True

    covered = _covered_by(r, [(a, b) for a, b, _ in spans])
    neg, hedge = _cues(r, covered)
    own = feature_groups(question) | feature_groups(gold)
    key_numbers = {p[0] for p in key_of if len(p) == 1 and p[0].isdigit()}

    status = []
    for k, (a, b, _owner) in enumerate(spans):
        c = r.clause[a]
        if yes_no and k == 0:
            status.append("affirmed")
        elif _bound_elsewhere(r, a, b, own):
            status.append("ignored")
        elif any(p < a and r.clause[p] == c for p in neg) or _post_negated(r, b):
            status.append("negated")
        elif r.sentence[a] in r.questions or any(p < a and c in reach for p, reach in hedge):
            status.append("hedged")
        else:
            status.append("affirmed")

    # Alternatives: a sentence with "or" and two or more different values (or key-length
    # numbers) hedges every mention in it.
    for s in {r.sentence[i] for i in range(n) if w[i] == "or" and not covered[i]}:
        live = {o for (a, _, o), st in zip(spans, status) if r.sentence[a] == s and st != "ignored"
                and st != "negated"}  # fmt: skip
        lengths = {len(x) for x in key_numbers}
        extra = {w[i] for i in range(n) if r.sentence[i] == s and not covered[i] and w[i].isdigit()
                 and len(w[i]) in lengths}  # fmt: skip
        if len(live) + len(extra) >= 2:
            status = [
                "hedged" if r.sentence[a] == s and st == "affirmed" else st
                for (a, _, _), st in zip(spans, status)
            ]
    return [Mention(a, b, o, st) for (a, b, o), st in zip(spans, status)]
