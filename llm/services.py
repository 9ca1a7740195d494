"""The entry points other apps call: classify a report's text, ask whether a report and an
issue describe the same problem, record a staff correction.

A language model only suggests. Its category must be one of the tenant's codes (the JSON
schema says so), its severity may differ from the rules' by one step at most, and any
fault (timeout, 429, 5xx, garbage, no free slot) hands the report to the offline
classifier, with the reason kept beside the answer.
"""

from dataclasses import replace

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from llm.client import ModelFault, chat_json, endpoint_config, endpoint_kept
from llm.few_shot import nearest_corrections
from llm.learning import classify_learned, learned_model_trusted
from llm.models import Endpoint, ModelCall, TrainingExample
from llm.offline import classify_offline, rule_severity
from llm.prior import classify_prior_many
from llm.prompts import (
    ADJUDICATION_SCHEMA,
    adjudication_messages,
    classification_messages,
    classification_schema,
)
from llm.secrets import secret_encrypt, secret_rotate
from llm.types import SEVERITIES, CategoryInfo, Classification


def _place() -> str:
    tenant = getattr(connection, "tenant", None)
    return getattr(tenant, "name", "") or ""


def classify_offline_best(text: str, categories: list[CategoryInfo]) -> Classification:
    """The tenant's learned model once it has one that knows these categories; else, when
    there is a choice to make, the categories' starter examples compared in meaning (the
    cold start); else their names, descriptions and keywords. A single category (the
    resident's own choice) is kept by every path, and the keywords' confidence then says
    how well the text fits it."""
    return classify_learned(text, categories) or classify_untrained(text, categories)


def classify_untrained(text: str, categories: list[CategoryInfo]) -> Classification:
    """What a tenant with no trained model gets: the starter examples compared in meaning
    when there is a choice to make and the embedding model is there, else the keywords."""
    return classify_untrained_many([text], categories)[0]


def classify_untrained_many(texts: list[str], categories: list[CategoryInfo]) -> list[Classification]:
    """classify_untrained for many texts with the same categories, compared at once."""
    priors = classify_prior_many(texts, categories) if len(categories) > 1 else [None] * len(texts)
    return [prior or classify_offline(text, categories) for text, prior in zip(texts, priors, strict=True)]


def _bounded_severity(suggested: str, ruled: str) -> str:
    """The model's severity, at most one step from the rules' (category default raised by
    danger words), and never below the rules' when they say high or critical: a text
    cannot talk its way to critical, nor a gas leak down to low."""
    rank, rule = SEVERITIES.index(suggested), SEVERITIES.index(ruled)
    floor = rule if rule >= SEVERITIES.index("high") else max(rule - 1, 0)
    return SEVERITIES[min(max(rank, floor), min(rule + 1, len(SEVERITIES) - 1))]


def classify_report(*, text: str, categories: list[CategoryInfo]) -> Classification:
    """Classify with the tenant's language model when it has one, else (or when the model
    fails or answers outside the rules) with the offline classifier."""
    config = endpoint_config(ModelCall.Purpose.CLASSIFY)
    if config is None or not categories:
        return classify_offline_best(text, categories)
    codes = [c.code for c in categories]
    system, user = classification_messages(
        text=text, categories=categories, place=_place(), examples=nearest_corrections(text, codes)
    )
    try:
        answer = chat_json(
            config,
            purpose=ModelCall.Purpose.CLASSIFY,
            system=system,
            user=user,
            schema=classification_schema([c.code for c in categories]),
        )
    except ModelFault as fault:
        # Only now: when the model answers, the offline classifier's work would be wasted.
        return replace(classify_offline_best(text, categories), note=f"model not used: {fault}"[:200])
    chosen = next(c for c in categories if c.code == answer["category"])  # the schema holds it to the list
    return Classification(
        category=chosen.code,
        severity=_bounded_severity(answer["severity"], rule_severity(text, chosen)),
        summary=" ".join(answer["summary"].split())[:300],
        confidence=round(float(answer["confidence"]), 3),
        classifier=f"llm:{config.model}"[:50],
    )


def classify_reports(*, items: list[tuple[str, list[CategoryInfo]]]) -> list[Classification | Exception]:
    """Classify many reports, each (text, its categories) as classify_report would one by
    one, with the tenant's endpoint and learned model read once for all. A report whose
    classification raised gets its exception in its place: one bad text fails alone."""
    answers: list[Classification | Exception] = []
    if endpoint_config(ModelCall.Purpose.CLASSIFY) is not None:
        for text, categories in items:
            try:
                answers.append(classify_report(text=text, categories=categories))
            except Exception as exc:
                answers.append(exc)
        return answers
    learned = learned_model_trusted()
    found: dict[int, Classification | Exception] = {}
    untrained: dict[int, list[int]] = {}  # the items left to the starter examples, by categories list
    for index, (text, categories) in enumerate(items):
        known: Classification | Exception | None
        try:
            known = learned.classify(text, categories) if learned is not None and categories else None
        except Exception as exc:
            known = exc
        if known is None:
            untrained.setdefault(id(categories), []).append(index)
        else:
            found[index] = known
    for indices in untrained.values():
        texts, categories = [items[index][0] for index in indices], items[indices[0]][1]
        try:
            answers_many: list[Classification | Exception] = list(classify_untrained_many(texts, categories))
        except Exception:  # one text it fails on fails alone: each is tried on its own
            answers_many = []
            for text in texts:
                try:
                    answers_many.append(classify_untrained(text, categories))
                except Exception as exc:
                    answers_many.append(exc)
        for index, answer in zip(indices, answers_many, strict=True):
            found[index] = answer
    return [found[index] for index in range(len(items))]


def adjudicate_same_problem(report_text: str, issue_text: str) -> dict | None:
    """The model's view on whether a borderline report and issue are one problem:
    {"same", "confidence", "reason", "model"}, or None without a model or when it failed
    (the grouping then decides on its other signals alone)."""
    config = endpoint_config(ModelCall.Purpose.ADJUDICATE)
    if config is None:
        return None
    system, user = adjudication_messages(report_text=report_text, issue_text=issue_text, place=_place())
    try:
        # Asked while the grouping holds its neighbourhood lock: one quick try, no queueing
        # for a slot, no retries. Without a quick answer the other signals decide.
        answer = chat_json(
            replace(config, timeout=min(config.timeout, settings.LLM_ADJUDICATE_TIMEOUT)),
            purpose=ModelCall.Purpose.ADJUDICATE,
            system=system,
            user=user,
            schema=ADJUDICATION_SCHEMA,
            max_tokens=150,
            retries=0,
            slot_wait=0,
        )
    except ModelFault:
        return None
    return {
        "same": answer["same"],
        "confidence": round(float(answer["confidence"]), 3),
        "reason": str(answer.get("reason", ""))[:200],
        "model": config.model,
    }


@transaction.atomic
def endpoint_save(*, endpoint: Endpoint, api_key: str = "", clear_api_key: bool = False) -> Endpoint:
    """Save the tenant's model endpoint (validated: an own base URL must be on the
    operator's allow-list). A new key replaces the stored one, encrypted; an empty one
    keeps it."""
    endpoint.full_clean()
    if clear_api_key:
        endpoint.api_key_encrypted = ""
    elif api_key:
        endpoint.api_key_encrypted = secret_encrypt(api_key)
    endpoint.save()
    # This process reads it afresh after the commit; the others within SETUP_CACHE_SECONDS.
    transaction.on_commit(endpoint_kept.forget)
    return endpoint


@transaction.atomic
def endpoint_secrets_rotate() -> tuple[int, int]:
    """Re-encrypt the tenant's stored model keys with the first LLM_SECRET_KEY. Returns
    (re-encrypted, unreadable); an unreadable key is left for staff to enter again."""
    rotated = unreadable = 0
    for endpoint in Endpoint.objects.exclude(api_key_encrypted="").select_for_update().order_by("pk"):
        token = secret_rotate(endpoint.api_key_encrypted)
        if token is None:
            unreadable += 1
            continue
        Endpoint.objects.filter(pk=endpoint.pk).update(api_key_encrypted=token)
        rotated += 1
    return rotated, unreadable


@transaction.atomic
def training_example_record(*, ref: str, text: str, category: str, severity: str) -> TrainingExample:
    """Record a staff correction as a labelled example. One per source (`ref`, a report's
    tracking id): a later correction of the same report replaces the earlier one."""
    now = timezone.now()
    example, _ = TrainingExample.objects.update_or_create(
        ref=ref,
        defaults={"text": text, "category": category, "severity": severity, "updated_at": now},
        create_defaults={
            "text": text,
            "category": category,
            "severity": severity,
            "created_at": now,
            "updated_at": now,
        },
    )
    return example


def training_examples_forget(*, refs: list[str]) -> int:
    """Delete the labelled examples of these sources (reports' tracking ids): their text
    is a reporter's words, erased at the reporter's request. The next training run learns
    without them."""
    deleted, _ = TrainingExample.objects.filter(ref__in=refs).delete()
    return deleted
