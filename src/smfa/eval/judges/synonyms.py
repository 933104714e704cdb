"""Other wordings of the benchmark's attribute values, for the rule judge (docs/metrics.md §6.1).

Drawn from the generator's vocabulary (``smfa.bench.vocab``, ``templates``): each entry maps a
value exactly as the benchmark writes it to the other ways a chat model says the same thing.
Spelling variants that compose inside longer values (``grey`` → ``gray``, ``violet`` →
``purple``, ``St.`` → ``Street``, ``Doctor`` → ``Dr.``) are word forms in
:data:`smfa.eval.judges.values.WORD_FORMS`; numbers are compared by value there too. Two
families are generated: blood types (``O-`` = ``O negative`` = ``O neg`` = ``O Rh-negative``)
and the absence values (``no hat`` = ``not wearing a hat`` = ``without a hat`` = ...).
A synonym never equals another value of the same attribute (``tests/test_judge_values.py``).
"""

from __future__ import annotations

import itertools
import re

PHRASES: dict[str, tuple[str, ...]] = {
    # occupation
    "police officer": ("policeman", "policewoman", "police man", "police woman", "cop"),
    "software developer": ("software engineer", "programmer", "software programmer"),
    "veterinarian": ("vet", "veterinary surgeon", "veterinary doctor"),
    "firefighter": ("fire fighter", "fireman", "firewoman"),
    "lawyer": ("attorney",),
    "teacher": ("schoolteacher", "school teacher"),
    # medical_condition
    "high blood pressure": ("hypertension", "elevated blood pressure"),
    "hay fever": ("hayfever", "allergic rhinitis"),
    "celiac disease": ("celiac",),  # "coeliac" is a word form of "celiac"
    "a heart murmur": ("heart murmurs",),
    "a nut allergy": ("nut allergies", "allergic to nuts", "allergy to nuts"),
    "a thyroid disorder": ("thyroid disease", "thyroid condition", "thyroid problem"),
    "back pain": ("backache", "back ache", "backaches"),
    "migraine": ("migraines",),
    "diabetes": ("diabetic",),
    "asthma": ("asthmatic",),
    "epilepsy": ("epileptic",),
    "anemia": ("anemic",),
    "eczema": ("atopic dermatitis",),
    # diagnosis
    "cataract": ("cataracts",),
    "macular degeneration": ("amd", "armd"),
    "retinal detachment": ("detached retina", "retinal detachments"),
    "vein occlusion": ("venous occlusion",),
    # medication: brand names of the generic drugs
    "latanoprost": ("xalatan",),
    "timolol": ("timoptic",),
    "brimonidine": ("alphagan",),
    "dorzolamide": ("trusopt",),
    "ranibizumab": ("lucentis",),
    "aflibercept": ("eylea",),
    "prednisolone": ("pred forte",),
    "acetazolamide": ("diamox",),
    "bevacizumab": ("avastin",),
    # hobby
    "birdwatching": ("bird watching", "birding", "to watch birds"),
    "stargazing": ("star gazing", "to stargaze", "watching the stars"),
    "woodworking": ("wood working", "woodwork"),
    "reading poetry": ("reading poems", "reads poetry", "to read poetry", "reads poems"),
    "playing guitar": ("playing the guitar", "plays guitar", "plays the guitar",
                       "guitar playing", "to play guitar", "to play the guitar"),
    "playing piano": ("playing the piano", "plays piano", "plays the piano",
                      "piano playing", "to play piano", "to play the piano"),
    "painting": ("to paint",),
    "hiking": ("to hike",),
    "cycling": ("to cycle", "biking", "bicycling"),
    "swimming": ("to swim",),
    "knitting": ("to knit",),
    "fishing": ("to fish", "angling"),
    "baking": ("to bake",),
    "climbing": ("to climb", "rock climbing"),
    "sailing": ("to sail",),
    "dancing": ("to dance",),
    "singing": ("to sing",),
    "running": ("to run", "jogging", "to jog"),
    "rowing": ("to row",),
    "juggling": ("to juggle",),
    "skiing": ("to ski",),
    "surfing": ("to surf",),
    "cooking": ("to cook",),
    # birthplace: endonyms and old spellings
    "Lisbon": ("Lisboa",),
    "Vienna": ("Wien",),
    "Prague": ("Praha",),
    "Warsaw": ("Warszawa",),
    "Rome": ("Roma",),
    "Seville": ("Sevilla",),
    "Milan": ("Milano",),
    "Naples": ("Napoli",),
    "Krakow": ("Cracow",),
    "Geneva": ("Geneve", "Genf"),
    "Munich": ("Munchen",),
    "Zurich": ("Zuerich",),
    # visible features (colour spellings are word forms)
    "blond": ("fair-haired", "golden"),
    "red": ("ginger",),
    "round glasses": ("round spectacles", "round eyeglasses", "round-framed glasses",
                      "round frames", "circular glasses", "round-rimmed glasses"),
    "square glasses": ("square spectacles", "square eyeglasses", "square-framed glasses",
                       "square frames", "square-rimmed glasses"),
    "goggles": ("a pair of goggles",),
    "cap": ("baseball cap", "peaked cap"),
    "beanie": ("knit cap", "knitted cap", "knit hat", "knitted hat", "woolly hat", "wool hat",
               "beanie hat", "toque"),
    "top hat": ("tophat", "stovepipe hat"),
    "medium": ("moderate", "intermediate", "average"),
}  # fmt: skip

_BLOOD_RE = re.compile(r"^(A|B|AB|O)([+-])$")
_SIGN = {
    "+": ("positive", "pos", "rh+", "rh positive", "rh-positive", "rhesus positive"),
    "-": ("negative", "neg", "rh-", "rh negative", "rh-negative", "rhesus negative"),
}

# "no hat" / "no glasses": every "not wearing a hat" style wording.
_NEGATORS = ("not", "never", "isn't", "doesn't", "aren't", "don't", "wasn't", "isnt", "doesnt")
_VERBS = ("wear", "wears", "wearing", "have", "has", "having", "have on")
_ABSENT = {
    "no hat": (
        ("", "a ", "an ", "any "),
        ("hat", "hats", "headwear", "headgear", "head covering", "anything on the head",
         "anything on her head", "anything on his head", "anything on their head",
         "anything on the person's head"),
        ("bareheaded", "bare-headed", "hatless", "nothing on the head", "nothing on her head",
         "nothing on his head", "nothing on their head", "nothing on the person's head",
         "a bare head"),
    ),
    "no glasses": (
        ("", "any ", "a pair of "),
        ("glasses", "spectacles", "eyeglasses", "eyewear"),
        ("glasses-free",),
    ),
}  # fmt: skip


def _absent(dets: tuple[str, ...], nouns: tuple[str, ...], extra: tuple[str, ...]) -> list[str]:
    out = [f"{neg} {verb} {det}{noun}" for neg, verb, det, noun in
           itertools.product(_NEGATORS, _VERBS, dets, nouns)]  # fmt: skip
    out += [f"without {det}{noun}" for det in dets for noun in nouns]
    out += [f"no {noun}" for noun in nouns]
    return out + list(extra)


def alternatives(value: str) -> tuple[str, ...]:
    """``value`` and every other wording of it (as text; :func:`values.phrase` canonicalises).

    >>> alternatives("O-")[:3]
    ('O-', 'O positive', ...)  # doctest: +SKIP
    """
    out = [value, *PHRASES.get(value, ())]
    m = _BLOOD_RE.match(value)
    if m:
        group, sign = m.groups()
        out += [f"{group} {w}" for w in _SIGN[sign]]
    if value in _ABSENT:
        out += _absent(*_ABSENT[value])
    return tuple(dict.fromkeys(out))
