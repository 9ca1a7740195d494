"""The narrative paragraph of a location report, written from findings already computed.

The tenant's language model (when it has one) writes it at temperature 0 from the facts
alone; every number it states must be one the facts contain, or the paragraph is
discarded for the deterministic summary, which is also what a tenant without a model
gets. Either way the paragraph ends with the same disclaimer. The rules of the number
check: docs/location-reports.md."""

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from analytics.location_reports.models import NarrativeSource
from llm.client import ModelFault, chat_json, endpoint_config
from llm.models import ModelCall

DISCLAIMER = (
    "This paragraph restates the findings of this report and nothing else; the tables and charts are the "
    "record, and every figure in it can be checked against them."
)

# Integers, decimals and percentages, with thousands separators ("1,234.5%").
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
# The time of day in an ISO timestamp: its hours, minutes and seconds are not figures a
# narrative may cite, so they do not count as numbers the facts contain.
_TIME_OF_DAY = re.compile(r"T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")
# Numbers written out in words could carry any figure past the check: a narrative with
# one is refused like one with an unknown number.
_NUMBER_WORDS = re.compile(
    r"\b(zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|"
    r"half|dozen|twice|thrice|double|triple)\b",
    re.IGNORECASE,
)

NARRATIVE_SCHEMA = {
    "type": "object",
    "properties": {"narrative": {"type": "string", "minLength": 1, "maxLength": 2000}},
    "required": ["narrative"],
    "additionalProperties": False,
}
SYSTEM_PROMPT = (
    "You write one paragraph of a public accountability report about a place, for residents, journalists and "
    "council staff. The user message is a JSON object of findings: the only facts you may use. Describe the record "
    "plainly and neutrally: how many issues and reports, how the service targets were met, which rules flagged "
    "the place, the area's score and how current the data is. Every number you write must be copied exactly, as "
    "digits, from the findings: do not add, subtract, divide, round or convert any figure, and do not write "
    "numbers in words. Do not speculate about causes. Do not add a disclaimer. "
    'Answer with a JSON object: {"narrative": "<the paragraph>"}.'
)


def _normal(token: str) -> str | None:
    try:
        value = Decimal(token.replace(",", ""))
    except InvalidOperation:
        return None
    return format(abs(value).normalize(), "f")


def numbers_in_text(text: str) -> list[str]:
    """Every number token in a text, normalised ("1,234.50%" -> "1234.5", "03" -> "3")."""
    return [n for n in (_normal(t) for t in _NUMBER.findall(text)) if n is not None]


def numbers_in_facts(facts: object) -> set[str]:
    """Every number the facts contain: numeric values (without sign) and the number
    tokens of their strings, dates included as year, month and day."""
    found: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int | float):
            normal = _normal(repr(float(value)) if isinstance(value, float) else str(value))
            if normal is not None:
                found.add(normal)
        elif isinstance(value, str):
            found.update(numbers_in_text(_TIME_OF_DAY.sub(" ", value)))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(facts)
    return found


def unsupported_numbers(text: str, facts: object) -> list[str]:
    """The numbers of `text` the facts do not contain (with a spelled-out number, its word)."""
    allowed = numbers_in_facts(facts)
    unknown = [n for n in numbers_in_text(text) if n not in allowed]
    unknown += [w.lower() for w in _NUMBER_WORDS.findall(text)]
    return list(dict.fromkeys(unknown))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def deterministic_summary(facts: dict) -> str:
    """The paragraph written from the facts by rule: every number is copied from them."""
    subject, findings = facts["subject"], facts["findings"]
    place = subject["address"] if subject["kind"] == "location" else f"the area {subject['name']}"
    issues, reports, sla = findings["issues"], findings["reports"], findings["sla"]
    if not reports["total"] and not issues["total"]:
        parts = [f"No reports or issues are on record for {place}."]
    else:
        span = (
            f", the first on {reports['first']} and the latest on {reports['last']}"
            if reports["first"]
            else ""
        )
        parts = [
            f"{place[0].upper()}{place[1:]} has {_plural(issues['total'], 'issue')} on record from "
            f"{_plural(reports['total'], 'report')}{span}; {issues['open']} open, {issues['resolved']} resolved "
            f"and {issues['closed']} closed."
        ]
    if sla["resolved_measured"]:
        parts.append(
            f"Of {sla['resolved_measured']} resolved issues measured against their service targets, "
            f"{sla['resolve_met']} met the resolution target ({sla['resolve_met_percent']}%) and "
            f"{sla['resolve_missed']} missed it; the median time to resolve was {sla['median_resolve_hours']} hours."
        )
    if sla["open_breached"] or sla["open_at_risk"]:
        parts.append(
            f"Of the open issues, {sla['open_breached']} have breached their target and "
            f"{sla['open_at_risk']} are at risk."
        )
    flags = findings["flags"]
    if flags:
        listed = "; ".join(f"{f['rule']} (version {f['version']}, count {f['support']})" for f in flags)
        parts.append(f"Rules flag this place: {listed}.")
    else:
        parts.append("No rule flags this place.")
    score = findings["area_score"]
    if score and score["score"] is not None:
        rank = f", rank {score['rank']} of {score['ranked_areas']} areas" if score["rank"] else ""
        parts.append(
            f"The area {score['area']} scored {score['score']} in the computation of {score['computed']}{rank}."
        )
    elif score:
        parts.append(f"The area {score['area']} has no score yet: too few resolved issues to judge.")
    fresh = findings["freshness"]
    if fresh["newest_report"]:
        parts.append(f"The newest report in the records is from {fresh['newest_report'][:10]}.")
    return " ".join(parts)


@dataclass(frozen=True)
class Narrative:
    text: str
    source: str
    note: str


def narrative_write(facts: dict) -> Narrative:
    """The model's paragraph when the tenant has a model and every number it cites is in
    the facts; otherwise the deterministic summary, with the reason."""
    config = endpoint_config(ModelCall.Purpose.NARRATIVE)
    if config is None:
        return Narrative(
            f"{deterministic_summary(facts)} {DISCLAIMER}",
            NarrativeSource.DETERMINISTIC,
            "no language model is configured",
        )
    try:
        answer = chat_json(
            config,
            purpose=ModelCall.Purpose.NARRATIVE,
            system=SYSTEM_PROMPT,
            user=json.dumps(facts, ensure_ascii=False),
            schema=NARRATIVE_SCHEMA,
            max_tokens=600,
        )
    except ModelFault as fault:
        return Narrative(
            f"{deterministic_summary(facts)} {DISCLAIMER}",
            NarrativeSource.DETERMINISTIC,
            f"model fault: {fault}"[:300],
        )
    text = " ".join(answer["narrative"].split())
    unknown = unsupported_numbers(text, facts)
    if unknown:
        return Narrative(
            f"{deterministic_summary(facts)} {DISCLAIMER}",
            NarrativeSource.DETERMINISTIC,
            f"the model's narrative cited numbers not in the findings: {', '.join(unknown)}"[:300],
        )
    return Narrative(f"{text} {DISCLAIMER}", NarrativeSource.MODEL, f"written by {config.model}"[:300])
