"""The narrative of a property report, written from its findings only.

The tenant's language model (when it has one) writes it at temperature 0 from the facts
alone, formal and cautious, with no legal advice and no recommendation for or against any
transaction. Every number it states must be one the facts contain (the location
reports' check, analytics.location_reports.narrative.unsupported_numbers) and it may use
no word of advice or of a transaction (`advice_words`), or the paragraph is discarded for
the deterministic summary, which is also what a tenant without a model gets. Either way the paragraph ends with the same fixed disclaimer."""

import json
import re
from dataclasses import dataclass

from analytics.location_reports.models import NarrativeSource
from analytics.location_reports.narrative import NARRATIVE_SCHEMA, unsupported_numbers
from llm.client import ModelFault, chat_json, endpoint_config
from llm.models import ModelCall

DISCLAIMER = (
    "This report restates public city records and the rules applied to them. It is not legal, financial or "
    "professional advice, nor a recommendation for or against any purchase, lease, loan or other transaction; "
    "the records may be incomplete or out of date, and should be confirmed with the departments that keep them."
)

CATEGORY_NAMES = {
    "A": "building safety",
    "B": "health",
    "C": "financial distress",
    "D": "vacancy and neglect",
}

SYSTEM_PROMPT = (
    "You write one paragraph of a property risk report for analysts. The user message is a JSON object of "
    "findings computed from public city records: the only facts you may use. Write formally and cautiously: "
    "state what the records show (the risk score and tier, which rules fire and on how many records, how many "
    "records of each kind are on file and how current each dataset is), never what they might mean for the "
    "owner or a buyer. Give no legal, financial or professional advice and no recommendation for or against "
    "any transaction, and use no word of advice or of a transaction (such as should, recommend, advise, "
    "suggest, buy, sell, purchase, invest, avoid or legal). Every number you write must be copied exactly, as "
    "digits, from the findings: do not add, subtract, divide, round or convert any figure, and do not write "
    "numbers in words. Do not speculate about causes. Do not add a disclaimer. Answer with a JSON object: "
    '{"narrative": "<the paragraph>"}.'
)


# Words of advice or of a transaction: the paragraph states what the records show and
# never counsels, so a model's paragraph using any of them (but those the findings
# themselves contain: an address, a rule's description) is set aside as one citing an
# unknown number is (the prompt forbids both; this checks it). Whole words, any case.
_ADVICE = re.compile(
    r"\b(recommend\w*|advis\w*|advice|suggest\w*|should|ought|urge\w*|buy|buys|buyers?|buying|purchas\w*|"
    r"sell|sells|sellers?|selling|invest\w*|avoid\w*|attorney\w*|lawyers?|legal\w*|lawsuits?|litigat\w*)\b",
    re.IGNORECASE,
)


def advice_words(text: str, facts: object) -> list[str]:
    """The words of advice or of a transaction `text` uses that `facts` do not, lower
    case, in order, once each."""
    known = {match.lower() for match in _ADVICE.findall(json.dumps(facts, ensure_ascii=False))}
    return [w for w in dict.fromkeys(match.lower() for match in _ADVICE.findall(text)) if w not in known]


def narrative_facts(body: dict) -> dict:
    """What the model is shown: the findings of the report, without the records
    themselves (their counts and newest dates stand for them) or the map."""
    return {
        "property": {
            "address": body["location"]["address"],
            "match_confidence": body["match_confidence"],
            "parse_confidence": body["location"]["parse_confidence"],
        },
        "score": body["score"],
        "tier": body["tier"],
        "flags": [
            {k: flag[k] for k in ("code", "category", "description", "severity", "supporting_count")}
            for flag in body["flags"]
        ],
        "records_listed": body["record_counts"],
        "records_listed_at_most": body["record_limit"],
        "freshness": body["freshness"],
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def deterministic_summary(facts: dict) -> str:
    """The paragraph written from the facts by rule: every number is copied from them."""
    parts = [
        f"The records matched to {facts['property']['address']} give a risk score of {facts['score']}, "
        f"in the {facts['tier']} tier."
    ]
    flags = facts["flags"]
    if flags:
        listed = "; ".join(
            f"{f['code']} ({CATEGORY_NAMES.get(f['category'], f['category'])}: {f['description']}; "
            f"severity {f['severity']}, {_plural(f['supporting_count'], 'supporting record')})"
            for f in flags
        )
        parts.append(f"The following rules fire: {listed}.")
    else:
        parts.append("No rule fires on the records held for this property.")
    counts = facts["records_listed"]
    held = [
        f"{dataset.replace('_', ' ')} {n['listed']}" + (f" (newest {n['newest']})" if n["newest"] else "")
        for dataset, n in counts.items()
        if n["listed"]
    ]
    if held:
        parts.append(
            f"Records listed in this report, by dataset (at most {facts['records_listed_at_most']} "
            f"each, newest first): {', '.join(held)}."
        )
    else:
        parts.append("No records of any dataset are on file for this property.")
    current = [
        f"{dataset.replace('_', ' ')} on {fresh['finished_at'][:10]}"
        for dataset, fresh in facts["freshness"].items()
        if fresh and fresh.get("finished_at")
    ]
    if current:
        parts.append(f"The datasets were last loaded: {', '.join(current)}.")
    return " ".join(parts)


@dataclass(frozen=True)
class Narrative:
    text: str
    source: str
    note: str


def _fallback(facts: dict, why: str) -> Narrative:
    return Narrative(f"{deterministic_summary(facts)} {DISCLAIMER}", NarrativeSource.DETERMINISTIC, why[:300])


def narrative_write(facts: dict) -> Narrative:
    """The model's paragraph when the tenant has a model and every number it cites is in
    the facts; otherwise the deterministic summary, with the reason."""
    config = endpoint_config(ModelCall.Purpose.NARRATIVE)
    if config is None:
        return _fallback(facts, "no language model is configured")
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
        return _fallback(facts, f"model fault: {fault}")
    text = " ".join(answer["narrative"].split())
    unknown = unsupported_numbers(text, facts)
    if unknown:
        return _fallback(
            facts, f"the model's narrative cited numbers not in the findings: {', '.join(unknown)}"
        )
    advice = advice_words(text, facts)
    if advice:
        return _fallback(
            facts, f"the model's narrative gave advice or spoke of a transaction: {', '.join(advice)}"
        )
    return Narrative(f"{text} {DISCLAIMER}", NarrativeSource.MODEL, f"written by {config.model}"[:300])
