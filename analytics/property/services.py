"""Writes of property reports: generate and store one, render its PDF once. Apart from the
lookup and the findings on purpose: this is the only property code that may reach a
language model (the narrative, written from findings already computed)."""

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from analytics.property.findings import property_findings
from analytics.property.lookup import Lookup
from analytics.property.models import PropertyReport, PropertyReportPdf
from analytics.property.narrative import DISCLAIMER, narrative_facts, narrative_write
from analytics.property.pdf import property_report_pdf
from civicpulse.apikeys.models import ApiKey


def property_report_create(
    *,
    lookup: Lookup,
    query: dict,
    actor: User | None = None,
    api_key: ApiKey | None = None,
) -> PropertyReport:
    """Compute the findings of a resolved lookup, write the narrative from them and store
    the whole report. The model is asked outside any transaction: a slow answer must not
    hold one open."""
    if lookup.location is None:
        raise ValueError("a property report needs a resolved lookup")
    body: dict = {
        "generated_at": timezone.now().isoformat(),
        "requested_by": f"api:{api_key.name}" if api_key else (actor.get_username() if actor else ""),
        "query": query,
        "resolved": True,
        "match_confidence": lookup.match_confidence,
        "warning": lookup.warning,
        **property_findings(lookup),
    }
    narrative = narrative_write(narrative_facts(body))
    body |= {
        "narrative": narrative.text,
        "narrative_source": {"source": narrative.source, "why": narrative.note},
        "disclaimer": DISCLAIMER,
    }
    with transaction.atomic():
        report = PropertyReport.objects.create(
            created_at=datetime.fromisoformat(body["generated_at"]),
            user=actor,
            api_key=api_key,
            requested_by_label=body["requested_by"][:150],
            query=query,
            location=lookup.location,
            match_confidence=lookup.match_confidence,
            score=body["score"],
            tier=body["tier"] or "",
            flags=body["flag_codes"],
            body=body,
        )
        # The stored JSON names its own id, so a saved or printed copy says which report it is.
        report.body = {"id": report.pk, **body}
        report.save(update_fields=["body"])
    return report


def property_report_pdf_get(*, report: PropertyReport) -> bytes:
    """The report's PDF: rendered from the stored JSON the first time it is asked for and
    kept, since the stored report never changes. Two first requests at once both render;
    the first to store wins and the other's copy, the same document, is dropped."""
    cached = PropertyReportPdf.objects.filter(report=report).values_list("content", flat=True).first()
    if cached is not None:
        return bytes(cached)
    content = property_report_pdf(report.body)
    PropertyReportPdf.objects.get_or_create(report=report, defaults={"content": content})
    return content
