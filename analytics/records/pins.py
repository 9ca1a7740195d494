"""Cook County property index numbers (PINs): 14 digits, written with or without dashes
(`17-09-100-001-0000`). A 10-digit PIN names the parcel without its unit; the county pads
it with `0000`. The loaders' SQL (analytics/records/checks.py, `rec_pin`) applies the same
rule to whole files; a test keeps the two in step."""

import re

_PIN = re.compile(r"^[0-9]+(-[0-9]+)*$")


def pin_normalise(value: str | None) -> str | None:
    """The 14-digit PIN `value` names, or None when it is not a PIN."""
    if value is None:
        return None
    text = value.strip()
    if not _PIN.match(text):
        return None
    digits = text.replace("-", "")
    if len(digits) == 14:
        return digits
    if len(digits) == 10:
        return digits + "0000"
    return None
