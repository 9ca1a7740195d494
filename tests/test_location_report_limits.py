"""Creating a location report writes a row and may call the language model: it needs its
own scope (`location`, not `read`), is limited per key, and its PDF is rendered once per
stored report, fetching no URL."""

import pytest

from analytics.location_reports.models import LocationReport, LocationReportPdf
from civicpulse.apikeys.services import api_key_create
from tests.conftest import api
from tests.support.factories import AreaFactory


@pytest.fixture
def downtown(tenant_a):
    return AreaFactory(code="downtown", name="Downtown")


def test_a_read_key_cannot_create_a_location_report(client_a, downtown) -> None:
    reader = api(client_a, api_key_create(name="reader", scopes=["read", "submit", "staff"])[1])
    refused = reader.post("/api/v1/location-reports/", {"area": "downtown"})
    assert refused.status_code == 403 and "'location' scope" in refused.json()["message"]
    assert not LocationReport.objects.exists()
    creator = api(client_a, api_key_create(name="creator", scopes=["location"])[1])
    created = creator.post("/api/v1/location-reports/", {"area": "downtown"})
    assert created.status_code == 201
    # Reading a stored report is still `read`'s: the creating key alone may not.
    assert creator.get(f"/api/v1/location-reports/{created.json()['id']}/").status_code == 403
    assert reader.get(f"/api/v1/location-reports/{created.json()['id']}/").status_code == 200


def test_creation_is_limited_per_key(client_a, downtown, settings) -> None:
    settings.LOCATION_REPORT_CREATE_PER_HOUR = 2
    first = api(client_a, api_key_create(name="first", scopes=["location"])[1])
    assert [first.post("/api/v1/location-reports/", {"area": "downtown"}).status_code for _ in range(3)] == [
        201,
        201,
        429,
    ]
    assert LocationReport.objects.count() == 2
    # Another key has its own budget.
    other = api(client_a, api_key_create(name="other", scopes=["location"])[1])
    assert other.post("/api/v1/location-reports/", {"area": "downtown"}).status_code == 201


def test_the_pdf_is_rendered_once_per_stored_report(client_a, downtown, monkeypatch) -> None:
    import analytics.location_reports.pdf as pdf_module

    renders: list[int] = []
    render = pdf_module.location_report_pdf

    def counted(body: dict) -> bytes:
        renders.append(body["id"])
        return render(body)

    monkeypatch.setattr(pdf_module, "location_report_pdf", counted)
    key = api_key_create(name="both", scopes=["read", "location"])[1]
    report_id = api(client_a, key).post("/api/v1/location-reports/", {"area": "downtown"}).json()["id"]
    downloads = [api(client_a, key).get(f"/api/v1/location-reports/{report_id}/pdf/") for _ in range(3)]
    assert all(d.status_code == 200 and d["Content-Type"] == "application/pdf" for d in downloads)
    assert downloads[0].content.startswith(b"%PDF") and len({d.content for d in downloads}) == 1
    assert renders == [report_id]
    assert bytes(LocationReportPdf.objects.get(report_id=report_id).pdf) == downloads[0].content


def test_pdf_rendering_fetches_no_url(tmp_path) -> None:
    """An image, a stylesheet or a background pointing anywhere (a local file, a server)
    is left out, never fetched."""
    import http.server
    import threading

    from civicpulse.core.pdf import html_to_pdf

    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = tmp_path / "secret.css"
    secret.write_text("body { background: red }")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        pdf = html_to_pdf(
            f'<link rel="stylesheet" href="{url}/style.css"><link rel="stylesheet" href="file://{secret}">'
            f'<img src="{url}/photo.jpg"><p style="background: url({url}/bg.png)">Report</p>'
        )
    finally:
        server.shutdown()
        server.server_close()
    assert pdf.startswith(b"%PDF") and asked == []
