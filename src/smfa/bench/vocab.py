"""Word pools for fictitious people, patients and their facts.

Pools are small on purpose: the tiny default model has a word-level vocabulary, and every value
should occur for several profiles so that it can be learned. Names are first + last from two pools
of 80 (6,400 unique names). Every attribute has at least 4 values so that each question can get 3
wrong values for its perturbed answers and multiple-choice options.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Ada Alan Alma Amir Anna Aron Bela Boris Carla Cyrus Dana Dario Edith Elias Elena Emil "
    "Erin Ezra Farah Felix Flora Gavin Greta Hana Hugo Ida Igor Ines Ivan Jana Jonas Kai Kara "
    "Lars Leila Leon Lina Luca Mara Marco Maya Milo Mina Nadia Nico Nora Omar Olga Oscar Paula "
    "Pedro Petra Quinn Rafael Rhea Rosa Ruben Sami Sara Selma Tariq Tessa Theo Tomas Uma Vera "
    "Victor Wanda Wesley Xenia Yara Yusuf Zara Zeno Lotte Arlo Celia Dmitri Hilda Joel"
).split()

LAST_NAMES = (
    "Abbott Alvarez Baker Barros Becker Brandt Castro Chen Costa Dahl Diaz Duarte Eklund Ferro "
    "Fischer Fontaine Garcia Gomez Haas Hale Holm Ibarra Ito Jansen Kato Keller Kovac Lang Larsen "
    "Lopez Lund Marsh Meyer Molina Moreno Nagy Novak Okafor Olsen Ortiz Park Perez Quint Ramos "
    "Reyes Rossi Sato Silva Sousa Stone Tanaka Torres Ueda Vance Varga Vidal Walsh Weber Wolfe "
    "Yilmaz Young Zhang Ziegler Adler Bishop Crane Doyle Engel Frost Grant Hayes Ivers Jovic "
    "Kline Moss Nash Pratt Rhodes Sharma Ulrich"
).split()

CITIES = (
    "Lisbon Oslo Dublin Vienna Prague Madrid Berlin Warsaw Athens Rome Paris Zurich Geneva Lyon "
    "Porto Seville Milan Naples Krakow Riga Tallinn Vilnius Helsinki Bergen Malmo Hamburg Munich "
    "Leeds Bristol Glasgow Toronto Denver Boston Austin Chicago Seattle Lima Quito Osaka Kyoto"
).split()

STREETS = (
    "Maple Oak Pine Cedar Birch Elm Willow Aspen Hazel Laurel Linden Poplar Spruce Walnut "
    "Chestnut Cherry Apple Rose Lily Ivy Mill River Bridge Harbor"
).split()
HOUSE_NUMBERS = tuple(str(n) for n in range(1, 61))

OCCUPATIONS = (
    "teacher",
    "nurse",
    "architect",
    "engineer",
    "baker",
    "pilot",
    "lawyer",
    "dentist",
    "pharmacist",
    "journalist",
    "librarian",
    "electrician",
    "plumber",
    "chef",
    "accountant",
    "translator",
    "photographer",
    "carpenter",
    "gardener",
    "veterinarian",
    "police officer",
    "bus driver",
    "software developer",
    "data analyst",
    "sales manager",
    "firefighter",
    "musician",
    "painter",
    "tailor",
    "surgeon",
)

EMPLOYERS = (
    "Northwind Labs",
    "Bluefield Bank",
    "Redstone Energy",
    "Silverline Rail",
    "Greenway Foods",
    "Harbor Health",
    "Summit Insurance",
    "Brightpath Schools",
    "Cobalt Systems",
    "Riverside Clinic",
    "Oakmont Press",
    "Lakeside Hotel",
    "Ironwood Motors",
    "Sunrise Bakery",
    "Clearwater Utilities",
    "Pioneer Airlines",
    "Granite Builders",
    "Meadow Farms",
    "Orbit Telecom",
    "Crescent Pharmacy",
    "Falcon Logistics",
    "Maple Studios",
    "Atlas Museum",
    "Beacon Legal",
    "Copper Kitchen",
    "Evergreen Parks",
    "Horizon Media",
    "Nimbus Software",
    "Quarry Stoneworks",
    "Vertex Robotics",
)

SALARIES = tuple(f"${k},000" for k in range(30, 151, 2))

MEDICAL_CONDITIONS = (
    "asthma",
    "diabetes",
    "migraine",
    "arthritis",
    "eczema",
    "anemia",
    "insomnia",
    "epilepsy",
    "psoriasis",
    "gout",
    "high blood pressure",
    "back pain",
    "hay fever",
    "celiac disease",
    "tinnitus",
    "scoliosis",
    "bronchitis",
    "a heart murmur",
    "a nut allergy",
    "a thyroid disorder",
)

HOBBIES = (
    "painting",
    "hiking",
    "chess",
    "gardening",
    "cycling",
    "swimming",
    "knitting",
    "fishing",
    "pottery",
    "baking",
    "climbing",
    "sailing",
    "dancing",
    "singing",
    "photography",
    "birdwatching",
    "running",
    "tennis",
    "archery",
    "rowing",
    "juggling",
    "origami",
    "skiing",
    "surfing",
    "woodworking",
    "stargazing",
    "cooking",
    "reading poetry",
    "playing guitar",
    "playing piano",
)

DIAGNOSES = (
    "glaucoma",
    "cataract",
    "diabetic retinopathy",
    "macular degeneration",
    "retinal detachment",
    "uveitis",
    "optic neuritis",
    "retinitis pigmentosa",
    "vein occlusion",
    "macular edema",
)

MEDICATIONS = (
    "latanoprost",
    "timolol",
    "brimonidine",
    "dorzolamide",
    "ranibizumab",
    "aflibercept",
    "prednisolone",
    "atropine",
    "acetazolamide",
    "bevacizumab",
)

BLOOD_TYPES = ("A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-")

BIRTH_YEARS = tuple(str(y) for y in range(1950, 2006))

# Visible features. Colors are names here; render_*.py maps each name to one exact RGB value.
HAIR_COLORS = ("black", "brown", "blond", "red", "gray", "white")
EYE_COLORS = ("brown", "blue", "green", "gray")
SKIN_TONES = ("pale", "light", "tan", "brown", "dark")
GLASSES = ("no glasses", "round glasses", "square glasses", "goggles")
HATS = ("no hat", "cap", "beanie", "top hat")
CLOTHING_COLORS = ("red", "blue", "green", "yellow", "purple", "orange", "black", "brown")
BACKGROUND_COLORS = ("blue", "green", "yellow", "purple", "orange", "pink", "gray", "white")

LESION_COUNTS = tuple(str(n) for n in range(1, 7))
LESION_COLORS = ("yellow", "white", "black", "purple")
DISC_SIDES = ("left", "right", "top", "bottom")
VESSEL_DENSITIES = ("minimal", "low", "medium", "high")

SHAPES = ("circle", "square", "triangle")
SHAPE_COLORS = ("red", "blue", "green", "yellow", "purple", "orange")
SLOTS = ("left", "top", "right", "bottom")  # also the canonical order of objects in answers
