"""Open311 answers in XML or JSON: datetimes in the tenant's zone with their offset, list
items named as the spec's examples name them, characters XML cannot carry dropped."""

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

from django.http import HttpResponse

from tenants.selectors import current_timezone_name

CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
# The XML element of each item of a list, by the list's element (the Spark convention).
ITEM_ELEMENTS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_requests": "request",
    "errors": "error",
    "notes": "note",
}

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _w3c(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="seconds")


def _text(value: object, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _w3c(value, zone)
    return str(value)


def _xml_fill(element: ET.Element, value: object, zone: ZoneInfo) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _xml_fill(ET.SubElement(element, key), child, zone)
    elif isinstance(value, list):
        for item in value:
            _xml_fill(ET.SubElement(element, ITEM_ELEMENTS[element.tag]), item, zone)
    else:
        # Control characters XML 1.0 cannot carry (a resident's text may hold them) are
        # dropped, so one report never makes the whole feed ill-formed.
        element.text = _XML_ILLEGAL.sub("", _text(value, zone))


def render(
    fmt: str, root: str, body: object, *, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    """`body` as JSON, or as XML under `root`, datetimes in the tenant's zone with offset."""
    zone = ZoneInfo(current_timezone_name())
    if fmt == "json":
        content = json.dumps(body, ensure_ascii=False, default=lambda v: _text(v, zone))
    else:
        element = ET.Element(root)
        _xml_fill(element, body, zone)
        content = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")
    response = HttpResponse(content.encode("utf-8"), status=status, content_type=CONTENT_TYPES[fmt])
    for name, value in (headers or {}).items():
        response[name] = value
    return response
