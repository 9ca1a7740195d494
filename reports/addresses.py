"""Address normalisation: the same place written different ways gets the same key."""
import re

_ABBREVIATIONS = {
    "street": "st", "str": "st", "avenue": "ave", "av": "ave", "road": "rd", "boulevard": "blvd",
    "drive": "dr", "lane": "ln", "place": "pl", "court": "ct", "terrace": "ter", "highway": "hwy",
    "parkway": "pkwy", "square": "sq", "circle": "cir", "north": "n", "south": "s", "east": "e",
    "west": "w", "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
    "apartment": "apt", "suite": "ste", "floor": "fl", "room": "rm", "building": "bldg",
}
# Letters and digits of any script: "Müllerstraße 5" and "東京都港区1-2" keep their words.
_TOKEN = re.compile(r"\w+")


def normalise_address(address: str) -> str:
    """Lower case, punctuation dropped, common words abbreviated, ordinals kept as is.
    '12 North Main Street, Apt. 3' -> '12 n main st apt 3'."""
    tokens = [t for t in _TOKEN.findall(address.casefold()) if t != "_"]
    return " ".join(_ABBREVIATIONS.get(t, t) for t in tokens)[:300]
