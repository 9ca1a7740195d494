"""The low items of the security review: formula-safe CSV downloads, bad API keys
throttled before they are looked up, a new API key shown once on the page (never in a
cookie-backed message)."""

import csv
import io

from django.contrib.auth import get_user_model

from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.selectors import api_key_for
from civicpulse.core.csv_safe import csv_safe_cell, csv_writer
from tests.conftest import api


def test_cells_that_a_spreadsheet_would_run_are_quoted() -> None:
    for text in ('=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert csv_safe_cell(text) == "'" + text
    assert [csv_safe_cell(v) for v in ("Pothole", "a=b", "", 3, -2.5, None)] == [
        "Pothole",
        "a=b",
        "",
        3,
        -2.5,
        None,
    ]
    out = io.StringIO()
    csv_writer(out).writerows([["=cmd|'/c calc'!A1", 5], ["fine", -1]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["'=cmd|'/c calc'!A1", "5"], ["fine", "-1"]]


def test_the_dashboard_csv_download_is_formula_safe(client_a, tenant_a) -> None:
    from issues.models import Category
    from tests.support.factories import IssueFactory

    formula = Category.objects.create(code="formula", name='=HYPERLINK("http://evil.example","x")')
    IssueFactory(category=formula, latitude=39.8, longitude=-89.64, status="open")
    get_user_model().objects.create_superuser("csv", "csv@example.org", "pw-csv-123456")
    client_a.force_login(get_user_model().objects.get(username="csv"))
    download = client_a.get("/admin/analytics/scorerun/dashboard/?csv=map")
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[1][1:] == ["39.8", "-89.64", "open", '\'=HYPERLINK("http://evil.example","x")']
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_the_rejected_rows_download_is_formula_safe(client_a, tenant_a) -> None:
    from reports.models import ImportBatch

    batch = ImportBatch.objects.create(
        source_format="csv", file_name="x.csv", checksum="0" * 64, rows_rejected=1
    )
    batch.rejected.create(line=2, source_id="=1+2", reason="bad", raw={"Description": "@SUM(1)"})
    get_user_model().objects.create_superuser("csv2", "csv2@example.org", "pw-csv-123456")
    client_a.force_login(get_user_model().objects.get(username="csv2"))
    download = client_a.get(f"/admin/reports/importbatch/{batch.pk}/rejected.csv")
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[1][:3] == ["2", "'=1+2", "bad"] and rows[1][3] == "'@SUM(1)"


def test_bad_keys_are_throttled_before_they_are_looked_up(client_a, tenant_a, settings, monkeypatch) -> None:
    import civicpulse.apikeys.throttling as throttling

    settings.API_BAD_KEY_RATE_PER_MINUTE = 3
    looked_up: list[str] = []

    def counted(key: str) -> ApiKey | None:
        looked_up.append(key)
        return api_key_for(key)

    monkeypatch.setattr(throttling, "api_key_for", counted)
    guesses = [
        api(client_a, f"cp_guess{n}").get("/api/v1/issues/", REMOTE_ADDR="10.0.0.7").status_code
        for n in range(6)
    ]
    assert guesses == [401, 401, 401, 429, 429, 429]
    assert len(looked_up) == 3  # the guesses over the limit were never looked up
    # Another address has its own budget.
    assert api(client_a, "cp_other").get("/api/v1/issues/", REMOTE_ADDR="10.0.0.8").status_code == 401


def test_good_keys_do_not_use_the_bad_key_budget(client_a, tenant_a, settings) -> None:
    from civicpulse.apikeys.services import api_key_create

    settings.API_BAD_KEY_RATE_PER_MINUTE = 2
    key = api_key_create(name="good", scopes=["read"])[1]
    answers = {
        api(client_a, key).get("/api/v1/issues/", REMOTE_ADDR="10.0.0.9").status_code for _ in range(5)
    }
    assert answers == {200}


def test_a_new_api_key_is_shown_once_on_the_page_and_never_in_a_message(client_a, tenant_a) -> None:
    get_user_model().objects.create_superuser("keys", "keys@example.org", "pw-keys-123456")
    client_a.force_login(get_user_model().objects.get(username="keys"))
    response = client_a.post(
        "/admin/apikeys/apikey/add/", {"name": "crm", "scopes": ["read"], "rate_per_minute": 600}
    )
    assert response.status_code == 200, response.content[:500]
    page = response.content.decode()
    created = ApiKey.objects.get(name="crm")
    shown = page.split('id="new-api-key"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert shown.startswith(created.prefix) and api_key_for(shown) == created
    assert "no-store" in response["Cache-Control"]
    # Not in any message, cookie or session: the next page knows nothing of it.
    assert shown not in str(response.cookies) and shown not in str(dict(client_a.session))
    following = client_a.get("/admin/apikeys/apikey/").content.decode()
    assert shown not in following
