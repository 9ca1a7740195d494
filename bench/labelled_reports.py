"""Labelled resident reports for evaluating classifiers: a CSV of `id, created, text,
category` over a year, across ten city categories.

    .venv/bin/python bench/labelled_reports.py [--rows 5000] [--seed 311] [--out FILE]

Written the way residents write: many phrasings of each problem, neighbouring categories
that share words (a street light and a traffic signal, missed trash and dumping, a tree
and the sidewalk its roots lifted), one text in twelve mentioning a second problem, a
few misspellings, terse one-liners, and a few percent of rows labelled with another
category (as real staff labels are). Seeded: the same arguments give the same file.
Needs no database. Prints `rows`, `labels`, `noisy_labels` and `path` (where it wrote;
by default a file in the system's temporary folder).

    .venv/bin/python manage.py evaluate_classifier springfield --csv FILE \\
        --text-column text --label-column category --date-column created --id-column id
"""

import argparse
import csv
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Share of rows whose label is another category, and of texts that mention a second problem.
LABEL_NOISE = 0.03
SECOND_PROBLEM = 1 / 12
# Chance that a word of four letters or more is misspelt.
TYPO = 0.03

# Per category: what residents call the thing, what is wrong with it, and an optional
# detail; the label is the category's name as a 311 menu shows it.
CATEGORIES: dict[str, dict[str, tuple[str, ...]]] = {
    "Pothole": {
        "thing": (
            "pothole",
            "pot hole",
            "hole in the road",
            "crater in the street",
            "big hole in the asphalt",
            "sinkhole in the lane",
            "road surface",
        ),
        "wrong": (
            "is getting deeper every day",
            "damaged my tire",
            "is huge",
            "needs to be filled",
            "is full of water when it rains",
            "has broken up around the edges",
            "keeps coming back after patching",
        ),
        "detail": (
            "cars swerve to avoid it",
            "a cyclist nearly fell",
            "it is right in the crosswalk",
            "my rim is bent",
            "it was patched last month and opened again",
        ),
    },
    "Street Light Out": {
        "thing": (
            "street light",
            "streetlight",
            "lamp post",
            "light pole",
            "street lamp",
            "light on the corner",
        ),
        "wrong": (
            "is out",
            "has been dark for a week",
            "flickers all night",
            "is not working",
            "stays on during the day",
            "bulb is burnt out",
            "globe is broken",
        ),
        "detail": (
            "the block is pitch black at night",
            "it feels unsafe walking home",
            "the pole is leaning",
            "several lights on the street are out",
        ),
    },
    "Traffic Signal": {
        "thing": (
            "traffic light",
            "traffic signal",
            "stop light",
            "walk signal",
            "pedestrian signal",
            "signal",
        ),
        "wrong": (
            "is stuck on red",
            "is flashing",
            "is out at the intersection",
            "never turns green",
            "walk button does not work",
            "is knocked over",
            "timing is too short to cross",
        ),
        "detail": (
            "cars are running it",
            "there was almost a crash",
            "traffic is backed up",
            "kids cross here to school",
        ),
    },
    "Graffiti": {
        "thing": ("graffiti", "tags", "spray paint", "vandalism", "markings", "graffitti on the wall"),
        "wrong": (
            "is on the side of the building",
            "covers the bus shelter",
            "is all over the underpass",
            "is on the park sign",
            "is on a mailbox",
            "was sprayed on the fence",
            "is on the school wall",
        ),
        "detail": (
            "it is offensive",
            "it keeps coming back",
            "it appeared overnight",
            "please paint over it",
        ),
    },
    "Illegal Dumping": {
        "thing": (
            "mattress",
            "old couch",
            "pile of tires",
            "construction debris",
            "bags of garbage",
            "furniture",
            "appliances",
            "a fridge",
        ),
        "wrong": (
            "was dumped in the alley",
            "was left on the sidewalk",
            "dumped on the vacant lot",
            "thrown out by the curb",
            "abandoned behind the store",
            "dumped overnight",
        ),
        "detail": (
            "someone drove up and left it",
            "it is blocking the alley",
            "rats are getting into it",
            "this is the third time this month",
        ),
    },
    "Missed Trash Pickup": {
        "thing": ("trash", "garbage", "recycling", "bins", "trash cans", "yard waste", "the garbage pickup"),
        "wrong": (
            "was not picked up",
            "was missed this week",
            "is still at the curb",
            "not collected on our day",
            "was skipped again",
            "- the truck never came",
        ),
        "detail": (
            "the whole block was missed",
            "it is starting to smell",
            "the bins are overflowing",
            "we put it out on time",
        ),
    },
    "Abandoned Vehicle": {
        "thing": ("abandoned car", "car", "van", "truck", "vehicle", "boat trailer", "motorcycle"),
        "wrong": (
            "has not moved in weeks",
            "has flat tires",
            "with no plates",
            "has broken windows",
            "parked for a month",
            "with expired registration",
        ),
        "detail": (
            "it is covered in leaves",
            "there is a ticket on it from weeks ago",
            "it takes a spot on a busy street",
            "someone may be living in it",
        ),
    },
    "Tree Problem": {
        "thing": ("tree", "branch", "limb", "dead tree", "tree branches", "stump", "oak on the parkway"),
        "wrong": (
            "fell across the road",
            "is hanging over the sidewalk",
            "is dead and needs removal",
            "is touching the power lines",
            "came down in the storm",
            "needs trimming",
            "is leaning badly",
        ),
        "detail": (
            "it could fall on someone",
            "it blocks the view of the stop sign",
            "roots are everywhere",
            "it hits trucks driving by",
        ),
    },
    "Sidewalk Damage": {
        "thing": ("sidewalk", "curb", "walkway", "sidewalk slab", "curb ramp", "pavement"),
        "wrong": (
            "is cracked",
            "is raised",
            "is broken",
            "is uneven",
            "has a big gap",
            "was lifted by tree roots",
            "is crumbling",
        ),
        "detail": (
            "someone tripped and fell",
            "wheelchairs cannot get by",
            "it is a trip hazard",
            "strollers get stuck",
        ),
    },
    "Water Leak": {
        "thing": ("water", "hydrant", "fire hydrant", "water main", "pipe", "valve"),
        "wrong": (
            "is leaking",
            "is gushing into the street",
            "running down the gutter for days",
            "is spraying",
            "is bubbling up from the road",
            "leaking under the sidewalk",
        ),
        "detail": (
            "the street is flooded",
            "it is icing over",
            "water pressure is low",
            "it is wasting a lot of water",
        ),
    },
}
LABELS = tuple(CATEGORIES)

STREETS = (
    "Washington St",
    "Park Ave",
    "Bloomfield St",
    "Willow Ave",
    "Garden St",
    "Hudson St",
    "Grand St",
    "Adams St",
    "Monroe St",
    "Jefferson St",
    "1st St",
    "4th St",
    "9th St",
    "Observer Hwy",
    "River St",
)
OPENERS = ("", "", "", "Hi, ", "Hello, ", "Please help: ", "Urgent: ", "FYI ", "Reporting that ", "Again, ")
# Only the text's first letter is capitalised, so "Hi, the ..." reads as residents write.
CLOSERS = (
    "",
    "",
    "",
    " Thanks.",
    " Please fix.",
    " Thank you!",
    " This has been reported before.",
    " Please send someone.",
    " When will this be fixed?",
)
SHAPES = (
    "{opener}{thing} {wrong} at {place}.{detail}{closer}",
    "{opener}the {thing} {wrong} near {place}.{detail}{closer}",
    "{opener}{place}: {thing} {wrong}.{detail}{closer}",
    "{opener}in front of {place} the {thing} {wrong}.{detail}{closer}",
    "{thing} {wrong}",
    "{thing}",
)
# Misspellings residents actually make, beside the random typos.
COMMON = {
    "pothole": "pot hole",
    "garbage": "garbge",
    "light": "lite",
    "tree": "tee",
    "sidewalk": "side walk",
    "graffiti": "grafiti",
    "hydrant": "hydrent",
    "abandoned": "abandonded",
    "leaking": "leeking",
    "street": "steet",
    "signal": "signl",
    "vehicle": "vehical",
    "recycling": "recyling",
}


def _typo(rng: random.Random, word: str) -> str:
    if word.lower() in COMMON and rng.random() < 0.5:
        return COMMON[word.lower()]
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1 :]  # dropped letter
    if kind == 1:
        return word[:i] + word[i] + word[i:]  # doubled letter
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]  # swapped letters


def _misspell(rng: random.Random, text: str) -> str:
    return " ".join(
        _typo(rng, w) if len(w) >= 4 and w.isalpha() and rng.random() < TYPO else w for w in text.split()
    )


def _sentence(rng: random.Random, label: str) -> str:
    parts = CATEGORIES[label]
    place = (
        f"{rng.randint(1, 1400)} {rng.choice(STREETS)}"
        if rng.random() < 0.7
        else f"{rng.choice(STREETS)} and {rng.choice(STREETS)}"
    )
    text = rng.choice(SHAPES).format(
        opener=rng.choice(OPENERS),
        thing=rng.choice(parts["thing"]),
        wrong=rng.choice(parts["wrong"]),
        place=place,
        detail=f" {rng.choice(parts['detail']).capitalize()}." if rng.random() < 0.5 else "",
        closer=rng.choice(CLOSERS),
    )
    return text[0].upper() + text[1:]


def labelled_rows(rows: int, seed: int = 311, start: datetime | None = None) -> list[dict[str, str]]:
    """The rows, oldest first, one report every ~year/rows seconds from `start` (default:
    a year before 2026-01-01 UTC, so the file does not depend on the day it is made)."""
    rng = random.Random(seed)
    start = start or datetime(2025, 1, 1, tzinfo=UTC)
    # Some categories are much more common than others, as in any city's 311 data.
    weights = [rng.uniform(0.3, 3.0) for _ in LABELS]
    out = []
    for n in range(rows):
        label = rng.choices(LABELS, weights)[0]
        text = _sentence(rng, label)
        if rng.random() < SECOND_PROBLEM:
            other = rng.choice([x for x in LABELS if x != label])
            second = CATEGORIES[other]
            text = text.rstrip() + ("" if text.rstrip().endswith((".", "!", "?")) else ".")
            text += f" Also the {rng.choice(second['thing'])} {rng.choice(second['wrong'])}."
        text = _misspell(rng, text)
        recorded = rng.choice([x for x in LABELS if x != label]) if rng.random() < LABEL_NOISE else label
        created = start + timedelta(seconds=int(n * 31_536_000 / rows) + rng.randint(0, 600))
        out.append(
            {
                "id": f"R{n:06d}",
                "created": created.isoformat(timespec="seconds"),
                "text": text,
                "category": recorded,
                "true_category": label,
            }
        )
    return out


def write_labelled_reports(path: Path, rows: int, seed: int = 311) -> dict[str, int]:
    """Write the CSV; return `rows`, `labels` and `noisy_labels` (rows whose label is not
    the category the text was written for; that column is not in the file)."""
    data = labelled_rows(rows, seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "created", "text", "category"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(data)
    return {
        "rows": len(data),
        "labels": len({r["category"] for r in data}),
        "noisy_labels": sum(r["category"] != r["true_category"] for r in data),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=311)
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "civicpulse-labelled-reports.csv"
    )
    args = parser.parse_args()
    from _setup import figure  # here: the tests load this file as a module, without bench/ on the path

    counts = write_labelled_reports(args.out, args.rows, args.seed)
    for name, value in (*counts.items(), ("path", args.out)):
        figure(name, value)


if __name__ == "__main__":
    main()
