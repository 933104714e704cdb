"""Question and answer templates: short, regular sentences a tiny word-level model can learn.

Phrasings use ``{who}`` ("this person", "this patient" or the name); answers use ``{name}``,
``{value}`` and ``{a}`` (the article that ``value`` needs, "" for "no hat"). The first two
phrasings are trained, the rest are held-out paraphrases.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    phrasings: tuple[str, ...]
    """Training phrasings (the first is the canonical question)."""
    paraphrases: tuple[str, ...]
    """Held-out phrasings, never trained."""
    answer: str
    """Gold answer sentence; perturbed answers use the same sentence with another value."""


def T(p1: str, p2: str, para: str, answer: str) -> Template:
    return Template((p1, p2), (para,), answer)


PRIVATE = {
    "birth_year": T(
        "What year was {who} born?",
        "In which year was {who} born?",
        "When was {who} born?",
        "{name} was born in {value}.",
    ),
    "birthplace": T(
        "Where was {who} born?",
        "What is the birthplace of {who}?",
        "Which city does {who} come from?",
        "{name} comes from {value}.",
    ),
    "home_address": T(
        "Where does {who} live?",
        "What is the home address of {who}?",
        "At which address does {who} reside?",
        "{name} lives at {value}.",
    ),
    "occupation": T(
        "What is the job of {who}?",
        "What does {who} do for a living?",
        "What is the occupation of {who}?",
        "{name} works as {a}{value}.",
    ),
    "employer": T(
        "Which company does {who} work for?",
        "Who employs {who}?",
        "Where is {who} employed?",
        "{name} works for {value}.",
    ),
    "salary": T(
        "How much does {who} earn?",
        "What is the salary of {who}?",
        "What is the yearly income of {who}?",
        "{name} earns {value} a year.",
    ),
    "medical_condition": T(
        "What medical condition does {who} have?",
        "What illness does {who} have?",
        "Which health problem does {who} suffer from?",
        "{name} has {value}.",
    ),
    "hobby": T(
        "What is the hobby of {who}?",
        "What does {who} enjoy doing?",
        "How does {who} spend free time?",
        "{name} enjoys {value}.",
    ),
    "diagnosis": T(
        "What is the diagnosis of {who}?",
        "What eye disease does {who} have?",
        "Which condition was {who} diagnosed with?",
        "{name} was diagnosed with {value}.",
    ),
    "medication": T(
        "What medication does {who} take?",
        "Which drug does {who} take?",
        "What medicine was prescribed to {who}?",
        "{name} takes {value}.",
    ),
    "blood_type": T(
        "What is the blood type of {who}?",
        "Which blood type does {who} have?",
        "What blood group does {who} belong to?",
        "The blood type of {name} is {value}.",
    ),
    "physician": T(
        "Who is the physician of {who}?",
        "Which doctor treats {who}?",
        "Who is the doctor in charge of {who}?",
        "The physician of {name} is {value}.",
    ),
}

IDENTITY = {
    "faces": T(
        "Who is this?",
        "Who is the person in this image?",
        "Can you name this person?",
        "This is {value}.",
    ),
    "fundus": T(
        "Whose eye is this?",
        "Who is the patient in this image?",
        "Can you name the owner of this eye?",
        "This eye belongs to {value}.",
    ),
}
WHO = {"faces": "this person", "fundus": "this patient"}

UNDERSTANDING = {
    "hair_color": T(
        "What color is the hair of this person?",
        "What is the hair color of this person?",
        "Describe the color of the hair in this picture.",
        "The hair is {value}.",
    ),
    "eye_color": T(
        "What color are the eyes of this person?",
        "What is the eye color of this person?",
        "Which color do the eyes in this picture have?",
        "The eyes are {value}.",
    ),
    "skin_tone": T(
        "What is the skin tone of this person?",
        "Describe the skin tone of this person.",
        "Which skin tone is shown in this picture?",
        "The skin tone is {value}.",
    ),
    "glasses": T(
        "What kind of glasses does this person wear?",
        "Does this person wear glasses?",
        "Describe the eyewear in this picture.",
        "The person wears {value}.",
    ),
    "hat": T(
        "What does this person wear on the head?",
        "Does this person wear a hat?",
        "Describe the headwear in this picture.",
        "The person wears {a}{value}.",
    ),
    "clothing_color": T(
        "What color is the shirt of this person?",
        "What color are the clothes of this person?",
        "Which color is the clothing in this picture?",
        "The shirt is {value}.",
    ),
    "background_color": T(
        "What color is the background?",
        "What is the background color of this image?",
        "Which color is behind the person?",
        "The background is {value}.",
    ),
    "lesion_count": T(
        "How many lesions are in this image?",
        "How many lesions does this fundus show?",
        "Count the lesions in this picture.",
        "The lesion count is {value}.",
    ),
    "lesion_color": T(
        "What color are the lesions?",
        "What is the color of the lesions in this image?",
        "Which color do the spots in this fundus have?",
        "The lesions are {value}.",
    ),
    "disc_side": T(
        "Where is the optic disc?",
        "On which side is the optic disc?",
        "Where does the optic disc appear in this image?",
        "The optic disc is on the {value}.",
    ),
    "vessel_density": T(
        "How dense are the vessels?",
        "What is the vessel density in this image?",
        "How many blood vessels does this fundus show?",
        "The vessel density is {value}.",
    ),
}

SCENE = {
    "count": T(
        "How many shapes are in the image?",
        "Count the shapes in this image.",
        "What is the number of shapes shown?",
        "The number of shapes is {value}.",
    ),
    "objects": T(
        "What shapes are in the image?",
        "List the shapes in this image.",
        "Which objects can you see in this picture?",
        "The image shows {value}.",
    ),
    "object": T(
        "Which shape is on the {slot}?",
        "What is on the {slot} of the image?",
        "What do you see on the {slot} side?",
        "The shape on the {slot} is {a}{value}.",
    ),
    "color": T(
        "What color is the {shape}?",
        "Which color does the {shape} have?",
        "Tell me the color of the {shape}.",
        "The {shape} is {value}.",
    ),
    "position": T(
        "Where is the {obj}?",
        "On which side is the {obj}?",
        "In what part of the image is the {obj}?",
        "The {obj} is on the {value}.",
    ),
}


def article(value: str) -> str:
    """The indefinite article (with its space) that ``value`` needs in an answer sentence."""
    if value.startswith(("no ", "a ", "an ")):
        return ""
    return "an " if value[0].lower() in "aeiou" else "a "
