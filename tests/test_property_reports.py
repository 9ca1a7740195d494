"""Property reports: the findings from the record views, the narrative's number check,
the stored JSON, the PDF (its text, rendered from the stored JSON once and kept), the
API's callers and who sees which report."""

import io
import json
import re
from collections.abc import Iterator

import pytest
from django.utils import timezone
from pypdf import PdfReader

from analytics.property.lookup import property_lookup
from analytics.property.models import PropertyReport, PropertyReportPdf
from analytics.property.narrative import DISCLAIMER, deterministic_summary, narrative_facts
from analytics.property.services import property_report_create, property_report_pdf_get
from tests.conftest import api
from tests.support.llm_server import FakeModel
from tests.support.property_data import PIN, property_with_records


@pytest.fixture
def home(tenant_a):
    return property_with_records(open_violations=6)


def _report(**query) -> PropertyReport:
    return property_report_create(lookup=property_lookup(**query), query=query)


def _pdf_text(pdf: bytes) -> str:
    return " ".join(
        " ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages
    )


def test_a_report_holds_the_views_findings(home) -> None:
    report = _report(pin=PIN)
    body = report.body
    # A1 (6 open violations, severity 3), C1 and C2 (a lien this year, 2 each): 7, HIGH.
    assert (body["score"], body["tier"], body["flag_codes"]) == (7, "HIGH", ["A1", "C1", "C2"])
    assert [(f["code"], f["category"], f["severity"], f["supporting_count"]) for f in body["flags"]] == [
        ("A1", "A", 3, 6),
        ("C1", "C", 2, 1),
        ("C2", "C", 2, 1),
    ]
    assert body["rule_versions"] == {"A1": 1, "C1": 1, "C2": 1}
    assert body["match_confidence"] == "EXACT_PIN" and body["location"]["id"] == home.pk
    violations = body["records"]["violations"]
    assert len(violations) == 6
    assert [v["violation_date"] for v in violations] == sorted(
        (v["violation_date"] for v in violations), reverse=True
    )
    assert body["record_counts"]["tax_sales"] == {"listed": 1, "newest": str(timezone.localdate().year)}
    assert body["record_counts"]["violations"] == {"listed": 6, "newest": violations[0]["violation_date"]}
    assert body["record_counts"]["permits"] == {"listed": 0, "newest": None}
    assert body["freshness"]["violations"]["rows_loaded"] == 6 and body["freshness"]["permits"] is None
    # Stored whole, with its own id; the row keeps what lists and filters need.
    stored = PropertyReport.objects.get()
    assert stored.body == {**body, "id": stored.pk} and report.body["id"] == stored.pk
    assert (stored.score, stored.tier, stored.flags, stored.location, stored.match_confidence) == (
        7,
        "HIGH",
        ["A1", "C1", "C2"],
        home,
        "EXACT_PIN",
    )
    assert stored.query == {"pin": PIN}


def test_a_rule_edit_reaches_the_next_report_and_leaves_the_last_as_it_was(home) -> None:
    from analytics.records.rule_models import PropertyRule
    from analytics.records.rule_services import property_rule_revise

    before = _report(pin=PIN)
    rule = PropertyRule.objects.get(code="A1")
    property_rule_revise(rule_id=rule.pk, severity=5)
    after = _report(pin=PIN)
    assert before.body["rule_versions"]["A1"] == 1 and after.body["rule_versions"]["A1"] == 2
    assert after.body["score"] == before.body["score"] + 2  # A1 weighs 5 now, not 3
    before.refresh_from_db()
    assert before.body["rule_versions"]["A1"] == 1 and before.score == 7  # stored as it was


def test_without_a_model_the_narrative_is_the_deterministic_summary(home) -> None:
    report = _report(address="12 N Main St")
    facts = narrative_facts(report.body)
    assert report.body["narrative"] == f"{deterministic_summary(facts)} {DISCLAIMER}"
    assert report.body["narrative"].endswith(DISCLAIMER)
    assert "risk score of 7, in the HIGH tier" in report.body["narrative"]
    assert report.body["narrative_source"] == {
        "source": "deterministic",
        "why": "no language model is configured",
    }


@pytest.fixture
def narrative_model(settings) -> Iterator[FakeModel]:
    server = FakeModel().start()
    settings.LLM_BASE_URL, settings.LLM_MODEL, settings.LLM_API_KEY = server.url, "test-model", "k"
    settings.LLM_TIMEOUT, settings.LLM_RETRIES, settings.LLM_RETRY_BACKOFF = 2.0, 0, 0.01
    yield server
    server.stop()


def test_a_narrative_citing_only_the_findings_is_kept(home, narrative_model: FakeModel) -> None:
    text = "The records give a risk score of 7 (HIGH); rule A1 fires on 6 open violations, and C1 on 1 lien event."
    narrative_model.answer = lambda request: {"narrative": text}
    report = _report(pin=PIN)
    assert report.body["narrative"] == f"{text} {DISCLAIMER}"
    assert report.body["narrative_source"] == {"source": "model", "why": "written by test-model"}
    sent = narrative_model.requests[-1]
    assert sent["temperature"] == 0
    assert json.loads(sent["messages"][1]["content"]) == narrative_facts(report.body)
    assert "no legal, financial or professional advice" in sent["messages"][0]["content"]


@pytest.mark.parametrize(
    "invented, cited",
    [
        ("The risk score is 987654, tier HIGH.", "987654"),
        ("Fines of 1,250.50 dollars remain unpaid.", "1250.5"),
        ("Twelve violations are open.", "twelve"),
    ],
)
def test_a_narrative_with_an_invented_number_is_replaced(
    home, narrative_model: FakeModel, invented: str, cited: str
) -> None:
    narrative_model.answer = lambda request: {"narrative": invented}
    report = _report(pin=PIN)
    assert report.body["narrative"] == f"{deterministic_summary(narrative_facts(report.body))} {DISCLAIMER}"
    assert report.body["narrative_source"] == {
        "source": "deterministic",
        "why": f"the model's narrative cited numbers not in the findings: {cited}",
    }


@pytest.mark.parametrize(
    "counsel, words",
    [
        ("The score is 7 (HIGH); buyers should proceed with caution.", "buyers, should"),
        ("With a score of 7, we recommend a legal review before any purchase.", "recommend, legal, purchase"),
        ("Rule A1 fires on 6 records; investors may wish to avoid this property.", "investors, avoid"),
    ],
)
def test_a_narrative_giving_advice_is_replaced(
    home, narrative_model: FakeModel, counsel: str, words: str
) -> None:
    narrative_model.answer = lambda request: {"narrative": counsel}
    report = _report(pin=PIN)
    assert report.body["narrative"] == f"{deterministic_summary(narrative_facts(report.body))} {DISCLAIMER}"
    assert report.body["narrative_source"] == {
        "source": "deterministic",
        "why": f"the model's narrative gave advice or spoke of a transaction: {words}",
    }


def test_words_the_findings_contain_are_no_advice() -> None:
    from analytics.property.narrative import advice_words

    facts = {"property": {"address": "12 Buyers Ct"}, "flags": [{"description": "A tax sale purchase"}]}
    assert advice_words("The property at 12 Buyers Ct has a purchase on file.", facts) == []
    assert advice_words("Buyers should look elsewhere.", facts) == ["should"]


def test_a_model_fault_falls_back_to_the_summary(home, narrative_model: FakeModel) -> None:
    narrative_model.mode = "500"
    report = _report(pin=PIN)
    assert report.body["narrative_source"]["source"] == "deterministic"
    assert report.body["narrative_source"]["why"].startswith("model fault:")


def test_the_pdf_carries_the_findings_and_is_rendered_once(home) -> None:
    report = _report(pin=PIN)
    pdf = property_report_pdf_get(report=report)
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)
    for expected in (
        f"Property report {report.pk}",
        "12 N Main St, Chicago IL 60601",
        "EXACT_PIN",
        "Raw score 7, tier HIGH",
        "A1 · Building safety · severity 3 · 6 supporting records · rule version 1",
        "C2 · Financial distress",
        "Building violations (6)",
        "CN100",
        "Tax sales and liens (1)",
        "Food inspections (0)",
        "not legal, financial or professional advice",
    ):
        assert expected in text, expected
    # Kept: the second request reads the stored bytes, even once the records have changed.
    assert PropertyReportPdf.objects.filter(report=report).count() == 1
    PropertyReport.objects.filter(pk=report.pk).update(body={**report.body, "score": 99})
    report.refresh_from_db()
    assert property_report_pdf_get(report=report) == pdf


def test_the_pdf_draws_a_gauge_tinted_flag_cards_and_six_record_tables(home) -> None:
    """What the PDF is rendered from (WeasyPrint draws exactly this HTML, no script)."""
    from analytics.property.pdf import CATEGORIES, property_report_html

    report = _report(pin=PIN)
    html = property_report_html(report.body)
    top = report.body["scale"]["max_score"]
    assert f'role="img" aria-label="Risk score 7 of at most {top}, tier HIGH"' in html
    assert html.count("<path d=") >= 4  # the four tiers' bands
    cards = {
        code: tint
        for tint, code in re.findall(
            r'<div class="flag" style="background: (#\w+);[^>]*>\s*<span class="code"[^>]*>(\w\d)<', html
        )
    }
    assert cards == {"A1": CATEGORIES["A"][1], "C1": CATEGORIES["C"][1], "C2": CATEGORIES["C"][1]}
    assert re.findall(r"<h3>([^<(]+) \(\d+\)</h3>", html) == [
        "Building violations",
        "Food inspections",
        "Building permits",
        "311 service requests",
        "Tax sales and liens",
        "Vacant building violations",
    ]


def _analyst(username: str):
    from django.contrib.auth.models import User

    from analytics.property.models import Analyst

    user = User.objects.create_user(username, f"{username}@example.org", "pw-long-enough-123")
    Analyst.objects.create(user=user, full_name=username.title())
    return user


def test_the_reports_api_with_an_api_key(home, client_a, tenant_a) -> None:
    from civicpulse.apikeys.services import api_key_create

    key = api_key_create(name="integrator", scopes=["property"])[1]
    other = api_key_create(name="other", scopes=["property"])[1]
    created = api(client_a, key).post("/api/v1/property/reports", {"address": "12 North Main Street"})
    assert created.status_code == 201
    body = created.json()
    assert {"id", "score", "tier", "flags", "records", "freshness", "narrative", "match_confidence"} <= set(
        body
    )
    assert body["flags"][0] == {
        "code": "A1",
        "category": "A",
        "description": body["flags"][0]["description"],
        "severity": 3,
        "supporting_count": 6,
        "rule_version": 1,
    }
    assert set(body["records"]) == {
        "violations",
        "inspections",
        "permits",
        "311",
        "tax_sales",
        "vacant_buildings",
    }
    assert created["Location"] == f"/api/v1/property/reports/{body['id']}"
    assert api(client_a, key).get(created["Location"]).json() == body
    pdf = api(client_a, key).get(f"{created['Location']}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "Raw score 7, tier HIGH" in _pdf_text(pdf.content)
    # By location id, as PDF at once.
    as_pdf = api(client_a, key).post("/api/v1/property/reports?format=pdf", {"location_id": home.pk})
    assert as_pdf.status_code == 201 and as_pdf.content.startswith(b"%PDF")
    mine = api(client_a, key).get("/api/v1/property/reports/mine").json()
    assert mine["count"] == 2 and mine["results"][1]["id"] == body["id"]
    assert mine["results"][0]["match_confidence"] == "LOCATION_ID"
    # Another key neither lists nor fetches them.
    assert api(client_a, other).get("/api/v1/property/reports/mine").json()["count"] == 0
    assert api(client_a, other).get(created["Location"]).status_code == 404
    # Nothing matched: 404 with the lookup's warning, nothing stored.
    missing = api(client_a, key).post("/api/v1/property/reports", {"address": "999 Nowhere Rd"})
    assert missing.status_code == 404 and "No known location matches" in missing.json()["message"]
    assert PropertyReport.objects.count() == 2


def test_analysts_see_their_own_reports_and_staff_see_all(home, client_a, tenant_a) -> None:
    from django.contrib.auth.models import User

    from tenants.models import Tenant

    Tenant.objects.filter(pk=tenant_a.pk).update(analyst_accounts_enabled=True)
    ann, bob = _analyst("ann"), _analyst("bob")
    report = property_report_create(lookup=property_lookup(pin=PIN), query={"pin": PIN}, actor=ann)
    client_a.force_login(bob)
    assert client_a.get(f"/api/v1/property/reports/{report.pk}").status_code == 404
    assert client_a.get(f"/property/reports/{report.pk}/").status_code == 404
    client_a.force_login(ann)
    assert client_a.get(f"/api/v1/property/reports/{report.pk}").status_code == 200
    page = client_a.get(f"/property/reports/{report.pk}/")
    assert page.status_code == 200 and b'Raw score <strong id="score">7</strong>' in page.content
    staff = User.objects.create_user("clerk", "c@example.org", "pw-long-enough-123", is_staff=True)
    client_a.force_login(staff)
    assert client_a.get(f"/api/v1/property/reports/{report.pk}").status_code == 200
    # Analysts switched off: analysts lose access, staff keep it.
    Tenant.objects.filter(pk=tenant_a.pk).update(analyst_accounts_enabled=False)
    client_a.force_login(ann)
    assert client_a.get(f"/api/v1/property/reports/{report.pk}").status_code == 403
    # An analyst never reaches the staff console.
    Tenant.objects.filter(pk=tenant_a.pk).update(analyst_accounts_enabled=True)
    assert client_a.get("/admin/").status_code == 302


def test_staff_search_and_generate_inside_the_console(home, client_a, tenant_a) -> None:
    from django.contrib.auth.models import User

    staff = User.objects.create_superuser("chief", "chief@example.org", "pw-long-enough-123")
    client_a.force_login(staff)
    listing = client_a.get("/admin/analytics/propertyreport/")
    assert listing.status_code == 200 and b"/admin/analytics/propertyreport/search/" in listing.content
    found = client_a.get("/admin/analytics/propertyreport/search/", {"address": "12 N Main St 60601"})
    assert found.status_code == 200 and b"EXACT_ADDRESS" in found.content
    made = client_a.post("/admin/analytics/propertyreport/search/report/", {"address": "12 N Main St 60601"})
    report = PropertyReport.objects.get()
    assert made.status_code == 302 and made["Location"].endswith(f"/propertyreport/{report.pk}/change/")
    assert report.user == staff and report.requested_by_label == "chief"
    page = client_a.get(made["Location"])
    assert page.status_code == 200 and b"A1" in page.content and b"Download the PDF" in page.content
    pdf = client_a.get(f"/admin/analytics/propertyreport/{report.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_report_creation_is_limited_per_caller(home, client_a, tenant_a, settings) -> None:
    from civicpulse.apikeys.services import api_key_create

    settings.PROPERTY_REPORT_CREATE_PER_HOUR = 1
    key = api_key_create(name="busy", scopes=["property"])[1]
    other = api_key_create(name="calm", scopes=["property"])[1]
    assert api(client_a, key).post("/api/v1/property/reports", {"pin": PIN}).status_code == 201
    refused = api(client_a, key).post("/api/v1/property/reports", {"pin": PIN})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    # Lookups and reads are not counted, nor is another key.
    assert api(client_a, key).post("/api/v1/property/lookup", {"pin": PIN}).status_code == 200
    assert api(client_a, other).post("/api/v1/property/reports", {"pin": PIN}).status_code == 201


def test_the_property_and_auth_endpoints_are_in_the_openapi_schema(client_a, tenant_a) -> None:
    document = client_a.get("/api/v1/schema/?format=json").json()
    paths, schemas = document["paths"], document["components"]["schemas"]

    def fields(name: str) -> set[str]:
        return set(schemas[name]["properties"])

    def body(path: str, method: str = "post") -> str:
        ref = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return ref.rsplit("/", 1)[-1]

    def answer(path: str, method: str, status: str) -> str:
        ref = paths[path][method]["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        return ref.rsplit("/", 1)[-1]

    assert fields(body("/api/v1/property/lookup")) == {"pin", "address", "latitude", "longitude"}
    assert fields(answer("/api/v1/property/lookup", "post", "200")) >= {
        "location_id",
        "match_confidence",
        "address",
        "resolved",
        "warning",
    }
    assert fields(body("/api/v1/property/reports")) == {
        "location_id",
        "pin",
        "address",
        "latitude",
        "longitude",
    }
    create = paths["/api/v1/property/reports"]["post"]
    assert "application/pdf" in create["responses"]["201"]["content"]
    assert any(p["name"] == "format" and "pdf" in p["schema"]["enum"] for p in create["parameters"])
    report = answer("/api/v1/property/reports", "post", "201")
    assert fields(report) >= {
        "id",
        "score",
        "tier",
        "flags",
        "records",
        "freshness",
        "narrative",
        "match_confidence",
    }
    assert fields("PropertyFlag") == {
        "code",
        "category",
        "description",
        "severity",
        "supporting_count",
        "rule_version",
    }
    assert answer("/api/v1/property/reports/{report_id}", "get", "200") == report
    assert (
        "application/pdf"
        in paths["/api/v1/property/reports/{report_id}/pdf"]["get"]["responses"]["200"]["content"]
    )
    assert "get" in paths["/api/v1/property/reports/mine"]
    addresses = paths["/api/v1/property/addresses"]["get"]
    assert [p["name"] for p in addresses["parameters"] if p["in"] == "query"] == ["q"]
    # Analysts' accounts and tokens.
    assert fields(body("/api/v1/auth/register")) == {"email", "password", "full_name", "organisation"}
    assert fields(body("/api/v1/auth/token")) == {"username", "email", "password"}
    assert fields(answer("/api/v1/auth/token", "post", "200")) == {"access", "refresh"}
    assert fields(body("/api/v1/auth/token/refresh")) == {"refresh"}
    assert fields(answer("/api/v1/auth/token/refresh", "post", "200")) == {"access", "refresh"}
    assert "get" in paths["/api/v1/auth/me"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["Bearer"] == {**schemes["Bearer"], "type": "http", "scheme": "bearer"}
    lookup_security = {
        name for entry in paths["/api/v1/property/lookup"]["post"]["security"] for name in entry
    }
    assert {"Bearer", "ApiKey"} <= lookup_security
