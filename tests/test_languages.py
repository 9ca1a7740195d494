"""Residents in English or Spanish: the browser's language, the switcher, the tenant's
default, the report form end to end and the emails in the report's language. The staff
console and the APIs stay in English."""

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import translation

from issues.models import IssueEvent
from issues.services.workflow import issue_transition
from reports.models import Report
from reports.notifications import (
    confirmation_send,
    confirmation_token,
    notify_issue_event,
    report_confirm_email,
)
from reports.services.intake import report_submit
from reports.services.pipeline import report_process
from tenants.models import Tenant

POINT = {"latitude": "39.8", "longitude": "-89.64"}
SPANISH: dict[str, Any] = {"HTTP_ACCEPT_LANGUAGE": "es-MX,es;q=0.9,en;q=0.5"}


@pytest.fixture(autouse=True)
def english_afterwards():
    """A request leaves its language active in this thread; the next test starts in English."""
    from civicpulse.core.redis_client import redis_client

    for key in redis_client().scan_iter(match="cp:*:form-rate:*"):
        redis_client().delete(key)
    yield
    translation.activate("en")


def test_a_spanish_browser_gets_the_spanish_form_and_tracking_page(client_a: Client, tenant_a) -> None:
    response = client_a.get("/report/", **SPANISH)
    page = response.content.decode()
    assert response["Content-Language"] == "es" and '<html lang="es">' in page
    assert "¿Cuál es el problema?" in page and "Enviar reporte" in page
    assert "What is the problem?" not in page
    assert "Accept-Language" in response["Vary"]

    sent = client_a.post("/report/", {"description": "Bache enorme en la calle Olmo", **POINT}, **SPANISH)
    assert sent.status_code == 302
    report = Report.objects.get()
    assert report.language == "es"
    track = client_a.get(sent["Location"], **SPANISH).content.decode()
    assert "Código de seguimiento" in track and report.tracking_id in track
    assert "Recibido. Lo revisaremos en breve." in track


def test_form_errors_are_in_spanish(client_a: Client, tenant_a) -> None:
    response = client_a.post("/report/", {"description": "Sin lugar"}, **SPANISH)
    assert response.status_code == 400
    assert "Indique un punto (latitud y longitud) o una dirección." in response.content.decode()


def test_a_spanish_report_gets_its_emails_in_spanish(client_a: Client, tenant_a) -> None:
    client_a.post(
        "/report/",
        {"description": "Farola apagada en la calle Olmo", "email": "ana@example.org", **POINT},
        **SPANISH,
    )
    translation.activate("en")  # the worker's own language: the report's must win
    spanish = Report.objects.get()
    english = report_submit(
        description="Street light out on Elm Street", latitude=39.8, longitude=-89.64, email="bob@example.org"
    ).report
    for report in (spanish, english):
        assert confirmation_send(report_id=report.pk)
    by_address = {m.to[0]: m for m in mail.outbox}
    assert (
        by_address["ana@example.org"].subject
        == f"Confirme que quiere recibir novedades sobre su reporte {spanish.tracking_id}"
    )
    assert "confirme aquí" in by_address["ana@example.org"].body
    assert by_address["bob@example.org"].subject.startswith("Confirm updates on your report")

    mail.outbox.clear()
    for report, email in ((spanish, "ana@example.org"), (english, "bob@example.org")):
        report_process(report_id=report.pk)
        assert report_confirm_email(
            tracking_id=report.tracking_id, token=confirmation_token(report.tracking_id, email)
        )
    # One issue with both reporters (texts in two languages do not group by themselves).
    issue_id = Report.objects.get(pk=spanish.pk).issue_id
    assert issue_id is not None
    Report.objects.filter(pk=english.pk).update(issue_id=issue_id)
    issue_transition(issue_id=issue_id, to_status="in_progress")
    event = IssueEvent.objects.filter(issue_id=issue_id, kind=IssueEvent.Kind.STATUS_CHANGED).latest("id")
    assert notify_issue_event(event_id=event.pk) == 2
    by_address = {m.to[0]: m for m in mail.outbox}
    assert by_address["ana@example.org"].subject == f"Novedades sobre su reporte {spanish.tracking_id}"
    assert "El problema que reportó pasó al estado «en curso»." in by_address["ana@example.org"].body
    assert "Deje de recibir estos correos:" in by_address["ana@example.org"].body
    assert "The problem you reported is now in progress." in by_address["bob@example.org"].body


def test_the_switcher_sets_the_language_and_beats_the_browser(client_a: Client, tenant_a) -> None:
    english = client_a.get("/report/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert 'name="language" value="es" lang="es">Español</button>' in english
    response = client_a.post("/i18n/setlang/", {"language": "es", "next": "/report/"})
    assert response.status_code == 302 and response["Location"] == "/report/"
    assert client_a.cookies["django_language"].value == "es"
    page = client_a.get("/report/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert "¿Cuál es el problema?" in page
    assert 'name="language" value="en" lang="en">English</button>' in page
    # The switcher never sends anyone to another site.
    away = client_a.post("/i18n/setlang/", {"language": "en", "next": "https://evil.example/"})
    assert away["Location"] == "/"


def test_the_tenants_default_language_when_the_visitor_expressed_none(client_a: Client, tenant_a) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(default_language="es")
    assert "¿Cuál es el problema?" in client_a.get("/report/").content.decode()
    # A language the site does not speak counts as no choice; one it speaks wins.
    assert "¿Cuál es el problema?" in client_a.get("/report/", HTTP_ACCEPT_LANGUAGE="fr-FR").content.decode()
    assert "What is the problem?" in client_a.get("/report/", HTTP_ACCEPT_LANGUAGE="en-GB").content.decode()
    # The other tenant keeps English.
    other = Client(HTTP_HOST="beta-hotel.localhost")
    assert "What is the problem?" in other.get("/report/").content.decode()


def test_emails_of_reports_without_a_language_follow_the_tenants_default(tenant_a, monkeypatch) -> None:
    report = report_submit(
        description="Graffiti on the wall", latitude=39.8, longitude=-89.64, email="cy@example.org"
    ).report
    assert report.language == ""  # the API and Open311 do not say
    monkeypatch.setattr(tenant_a, "default_language", "es")
    assert confirmation_send(report_id=report.pk)
    assert mail.outbox[0].subject.startswith("Confirme que quiere recibir novedades")


def test_staff_console_and_api_stay_in_english(client_a: Client, tenant_a, api_key_a) -> None:
    login = client_a.get("/admin/login/", **SPANISH)
    assert login["Content-Language"] == "en" and "Log in" in login.content.decode()
    refused = client_a.post(
        "/api/v1/reports/",
        {"description": "No place"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Api-Key {api_key_a}",
        **SPANISH,
    )
    assert refused.status_code == 400
    assert "Give a point (latitude and longitude) or an address." in refused.content.decode()
