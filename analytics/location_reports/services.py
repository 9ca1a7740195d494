"""Writes of location accountability reports. Apart from the SLA, score and rule
services on purpose: this is the only analytics code that may reach a language model
(the narrative, written from findings already computed), and they must not import it."""

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from analytics.location_reports.findings import location_findings
from analytics.location_reports.models import LocationReport, NarrativeSource
from analytics.location_reports.narrative import DISCLAIMER, narrative_write
from analytics.location_reports.places import location_resolve, location_subject


def location_report_create(
    *,
    request: dict,
    actor: User | None = None,
    actor_label: str = "",
) -> LocationReport:
    """Resolve the place asked for, compute its findings, write the narrative from them and
    store the whole report. An unresolved request is stored too: `resolved` false and why.
    The model is asked outside any transaction: a slow answer must not hold one open."""
    resolution = location_resolve(request=request)
    subject = location_subject(resolution)
    body: dict = {
        "generated_at": timezone.now().isoformat(),
        "requested_by": actor_label or (actor.get_username() if actor else ""),
        "request": request,
        "resolved": resolution.resolved,
        "reason": resolution.reason,
        "subject": subject,
        "findings": None,
    }
    if resolution.resolved:
        facts = {"subject": subject, "findings": location_findings(resolution)}
        narrative = narrative_write(facts)
        body |= {
            "findings": facts["findings"],
            "narrative": narrative.text,
            "narrative_source": {"source": narrative.source, "why": narrative.note},
        }
    else:
        body |= {
            "narrative": f"{resolution.reason} {DISCLAIMER}",
            "narrative_source": {
                "source": NarrativeSource.DETERMINISTIC,
                "why": "nothing matched the request",
            },
        }
    with transaction.atomic():
        report = LocationReport.objects.create(
            created_at=datetime.fromisoformat(body["generated_at"]),
            requested_by=actor,
            requested_by_label=body["requested_by"][:150],
            request=request,
            resolved=resolution.resolved,
            location=resolution.location,
            area=resolution.area,
            narrative_source=body["narrative_source"]["source"],
            body=body,
        )
        # The stored JSON names its own id, so a saved or printed copy says which report it is.
        report.body = {"id": report.pk, **body}
        report.save(update_fields=["body"])
    return report
