"""Addresses: the same place written different ways gets the same key.

US-style addresses (starting with a house number) are parsed with usaddress into house
number, direction, street name, type, unit and zip; the key is built from the first
five, abbreviated and lower-cased, so "12 North Main Street, Apt. 3, Hoboken NJ 07030"
and "12 N Main St apt 3" are one place. Anything else keeps its words, in any script.
"""

import re
from dataclasses import dataclass

import usaddress

_ABBREVIATIONS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "place": "pl",
    "court": "ct",
    "terrace": "ter",
    "highway": "hwy",
    "parkway": "pkwy",
    "square": "sq",
    "circle": "cir",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "apartment": "apt",
    "suite": "ste",
    "floor": "fl",
    "room": "rm",
    "building": "bldg",
}
# Letters and digits of any script: "Müllerstraße 5" and "東京都港区1-2" keep their words.
_TOKEN = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return [_ABBREVIATIONS.get(t, t) for t in _TOKEN.findall(text.casefold()) if t != "_"]


@dataclass(frozen=True)
class StandardAddress:
    number: str = ""
    direction: str = ""
    street: str = ""
    street_type: str = ""
    unit: str = ""
    zip: str = ""
    key: str = ""


def standardise_parts(
    *, number: str, direction: str = "", street: str, street_type: str = "", unit: str = "", zip: str = ""
) -> StandardAddress:
    """An address that arrives already split (the Chicago export's STREET_NUMBER,
    STREET_DIRECTION, STREET_NAME, STREET_TYPE): the same words and key as if parsed."""
    clean = lambda text: " ".join(_words(text))  # noqa: E731
    std = StandardAddress(
        number=clean(number),
        direction=clean(direction),
        street=clean(street),
        street_type=clean(street_type),
        unit=clean(unit),
        zip=clean(zip),
    )
    key = " ".join(p for p in (std.number, std.direction, std.street, std.street_type, std.unit) if p)
    return StandardAddress(**{**std.__dict__, "key": key[:300]})


def standardise_address(address: str) -> StandardAddress:
    words = _words(address)
    if not words:
        return StandardAddress()
    if words[0][0].isdigit() and address.isascii():
        try:
            tags, _ = usaddress.tag(address)
        except usaddress.RepeatedLabelError:
            tags = {}
        if tags.get("AddressNumber") and tags.get("StreetName"):
            part = lambda *labels: " ".join(tags.get(label, "") for label in labels)  # noqa: E731
            return standardise_parts(
                number=part("AddressNumber"),
                direction=part("StreetNamePreDirectional"),
                street=part("StreetNamePreType", "StreetName"),
                street_type=part("StreetNamePostType", "StreetNamePostDirectional"),
                unit=part("OccupancyType", "OccupancyIdentifier"),
                zip=part("ZipCode"),
            )
    return StandardAddress(key=" ".join(words)[:300])


def normalise_address(address: str) -> str:
    """The key under which a place is known ('' when there is nothing to go on)."""
    return standardise_address(address).key
