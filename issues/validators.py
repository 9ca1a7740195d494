"""Validators of the taxonomy's structured fields: area boundaries and category questions."""

import re

from django.core.exceptions import ValidationError


def validate_geojson_boundary(value: object) -> None:
    """An area boundary is a GeoJSON Polygon or MultiPolygon in WGS84 longitude/latitude."""
    if value in (None, ""):
        return
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValidationError("The boundary must be a GeoJSON Polygon or MultiPolygon.")
    polygons = value.get("coordinates")
    if value["type"] == "Polygon":
        polygons = [polygons]
    if not isinstance(polygons, list) or not polygons:
        raise ValidationError("The boundary has no coordinates.")
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise ValidationError("Each polygon needs at least one ring.")
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4:
                raise ValidationError("Each ring needs at least four positions.")
            for position in ring:
                if (
                    not isinstance(position, list | tuple)
                    or len(position) < 2
                    or not all(isinstance(c, int | float) for c in position[:2])
                    or not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90)
                ):
                    raise ValidationError(f"Invalid position {position!r}: use [longitude, latitude].")
            if list(ring[0][:2]) != list(ring[-1][:2]):
                raise ValidationError("Each ring must end where it starts.")


QUESTION_DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


def validate_category_questions(value: object) -> None:
    """A category's extra questions, as Open311 service attributes: a list of
    {"code", "description", "datatype", "required", "values": [{"key", "name"}]}."""
    if value in (None, []):
        return
    if not isinstance(value, list):
        raise ValidationError("Questions must be a list.")
    codes: set[str] = set()
    for question in value:
        if not isinstance(question, dict):
            raise ValidationError("Each question must be an object.")
        code = question.get("code")
        if not isinstance(code, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_]{0,49}", code) or code in codes:
            raise ValidationError(
                f"Question code {code!r}: use a unique code of lower-case letters, digits and underscores."
            )
        codes.add(code)
        if question.get("datatype") not in QUESTION_DATATYPES:
            raise ValidationError(
                f"Question {code}: datatype must be one of {', '.join(QUESTION_DATATYPES)}."
            )
        if not isinstance(question.get("description"), str) or not question["description"].strip():
            raise ValidationError(f"Question {code}: write the question in `description`.")
        if not isinstance(question.get("required", False), bool):
            raise ValidationError(f"Question {code}: `required` is true or false.")
        values = question.get("values", [])
        if question["datatype"].endswith("valuelist"):
            if (
                not isinstance(values, list)
                or not values
                or not all(
                    isinstance(v, dict) and isinstance(v.get("key"), str) and isinstance(v.get("name"), str)
                    for v in values
                )
            ):
                raise ValidationError(
                    f'Question {code}: a list question needs values, each {{"key", "name"}}.'
                )
        elif values:
            raise ValidationError(f"Question {code}: only list questions have values.")
