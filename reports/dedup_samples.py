"""Generated labelled reports for `reports.dedup_evaluation` (`evaluate_dedup --generate`):
a made-up city's reports with their true duplicate groups, the same for the same seed."""

import random
from datetime import UTC, datetime, timedelta
from math import cos, sin

from civicpulse.core.geo import METRES_PER_DEGREE, metres_per_degree_lon
from reports.dedup_evaluation import LabelledReport

# Per category code: what residents call the thing, what is wrong with it. Duplicates of
# one incident pick other words from the same lists, so they read alike without being
# copies.
_PHRASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "potholes": (
        ("pothole", "big pothole", "deep pothole", "hole in the road", "pot hole in the asphalt"),
        ("getting deeper", "damaged my tire", "needs filling", "full of water", "cars swerving around it"),
    ),
    "street_lights": (
        ("street light", "streetlight", "street lamp", "lamp post light", "light on the pole"),
        ("is out", "flickering all night", "dark for a week", "not working", "stays off at night"),
    ),
    "graffiti": (
        ("graffiti", "spray paint tags", "graffiti tags", "vandalism with spray paint", "fresh graffiti"),
        ("on the wall", "all over the fence", "on the bus shelter", "on the side of the shop", "came back"),
    ),
    "sanitation": (
        ("trash", "garbage bags", "overflowing bin", "litter and garbage", "recycling bin"),
        ("not collected", "piling up", "spilling onto the sidewalk", "left for days", "attracting rats"),
    ),
    "trees_parks": (
        ("tree branch", "fallen tree", "large branch", "dead tree", "tree limb"),
        ("blocking the path", "hanging over the road", "fell in the storm", "about to fall", "down"),
    ),
    "water_sewer": (
        ("water main", "fire hydrant", "sewer drain", "water leak", "manhole"),
        ("leaking", "flooding the street", "gushing water", "overflowing", "bubbling up"),
    ),
    "traffic_signals": (
        ("traffic light", "traffic signal", "signal at the crossing", "pedestrian signal", "red light"),
        ("stuck on red", "flashing", "not working", "out at the intersection", "never changes"),
    ),
    "abandoned_vehicles": (
        ("abandoned car", "abandoned vehicle", "derelict car", "car with no plates", "parked vehicle"),
        ("for weeks", "not moved in a month", "with flat tires", "with broken windows", "dumped here"),
    ),
    "sidewalks": (
        ("sidewalk", "broken sidewalk", "uneven pavement", "cracked curb", "sidewalk slab"),
        ("trip hazard", "lifted by roots", "crumbling", "someone tripped", "needs repair"),
    ),
    "noise": (
        ("loud music", "party noise", "car alarm", "barking dog", "loud noise"),
        ("every night", "after midnight", "all weekend", "for hours", "again tonight"),
    ),
}
_STREETS = (
    "Main St",
    "Oak Ave",
    "Elm St",
    "Maple Ave",
    "2nd St",
    "5th St",
    "Washington Ave",
    "Lincoln Blvd",
    "Park Rd",
    "Cedar Ln",
    "Jefferson St",
    "Madison Ave",
    "Spring St",
    "Grand Ave",
    "River Rd",
    "Hill St",
)
_OPENINGS = ("", "", "There is a ", "Please fix the ", "Reporting a ", "The ")
_REPEATS = ("", "", "still ", "again, ", "second report: ")


def _describe(rng: random.Random, code: str, place: str) -> str:
    things, wrongs = _PHRASES[code]
    opening, thing, wrong = rng.choice(_OPENINGS), rng.choice(things), rng.choice(wrongs)
    text = f"{opening}{thing} {wrong}" if opening else f"{thing.capitalize()} {wrong}"
    return f"{text} {place}" if rng.random() < 0.8 else text


def _typo(rng: random.Random, text: str) -> str:
    """One swapped pair of letters in a longer word: residents type on phones."""
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) > 5]
    if not long:
        return text
    i = rng.choice(long)
    j = rng.randrange(1, len(words[i]) - 2)
    w = words[i]
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def _point(row: LabelledReport) -> tuple[float, float]:
    """A generated row's point (every generated row has one)."""
    if row.latitude is None or row.longitude is None:
        raise ValueError(f"row {row.ref} has no point")
    return row.latitude, row.longitude


def labelled_reports_generate(
    count: int,
    *,
    seed: int = 7,
    centre: tuple[float, float] = (39.80, -89.64),
    start: datetime | None = None,
) -> list[LabelledReport]:
    """`count` labelled reports over a city of about 8 by 8 km and 60 days. Most problems
    are reported once; some by two to six residents, a few metres (rarely some tens of
    metres) apart, minutes to a day or two apart, in their own words (a few resend the
    same text seconds later). Some problems are near lookalikes of others: the same kind
    of problem a block away on the same street, or another kind at the same corner."""
    rng = random.Random(seed)
    start = start or datetime(2026, 1, 5, tzinfo=UTC)
    lat0, lon0 = centre
    metres_lon = metres_per_degree_lon(lat0)
    rows: list[LabelledReport] = []
    incident = 0
    while len(rows) < count:
        incident += 1
        code = rng.choice(list(_PHRASES))
        street = rng.choice(_STREETS)
        number = rng.randrange(1, 400) * 2
        place = rng.choice(
            (f"outside {number} {street}", f"at {number} {street}", f"on {street} near number {number}")
        )
        if rows and rng.random() < 0.15:
            # A lookalike: next to an earlier problem, another kind or the same kind a block away.
            other = rng.choice(rows)
            shift = 0.0 if rng.random() < 0.5 else rng.uniform(80, 200)
            other_lat, other_lon = _point(other)
            lat, lon = other_lat + shift / METRES_PER_DEGREE, other_lon
            code = (
                rng.choice([c for c in _PHRASES if c != other.category]) if shift == 0.0 else other.category
            )
            at0 = other.at + timedelta(hours=rng.uniform(-48, 48))
        else:
            lat = lat0 + rng.uniform(-4000, 4000) / METRES_PER_DEGREE
            lon = lon0 + rng.uniform(-4000, 4000) / metres_lon
            at0 = start + timedelta(minutes=rng.uniform(0, 60 * 24 * 60))
        size = rng.choices((1, 2, 3, 4, 5, 6), weights=(62, 18, 9, 5, 3, 3))[0]
        first_ref = f"g{incident}-1"
        first_text = _describe(rng, code, place)
        rows.append(LabelledReport(first_ref, first_text, round(lat, 7), round(lon, 7), at0, "", code))
        at = at0
        for n in range(2, size + 1):
            if rng.random() < 0.1:  # sent twice by mistake: same words, seconds later
                text, at = first_text, at + timedelta(seconds=rng.uniform(2, 60))
                dist = rng.uniform(0, 3)
            else:
                text = _describe(rng, code, place)
                repeat = rng.choice(_REPEATS)
                text = repeat.capitalize() + text[0].lower() + text[1:] if repeat else text
                text = _typo(rng, text) if rng.random() < 0.2 else text
                at = at + timedelta(minutes=rng.expovariate(1 / 600))
                # GPS and where each resident stands: mostly within 25 m, sometimes farther.
                dist = rng.uniform(2, 25) if rng.random() < 0.9 else rng.uniform(25, 70)
            angle = rng.uniform(0, 6.283)
            dlat = dist * cos(angle) / METRES_PER_DEGREE
            dlon = dist * sin(angle) / metres_lon
            rows.append(
                LabelledReport(
                    f"g{incident}-{n}", text, round(lat + dlat, 7), round(lon + dlon, 7), at, first_ref, code
                )
            )
    return rows[:count]
