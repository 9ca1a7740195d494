"""The resident form and the tracking page: validation that keeps what was typed, spam
controls, photos stripped of metadata, and only public information shown."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from issues.models import Issue
from issues.services.workflow import issue_transition
from reports.models import Report
from reports.services.pipeline import report_process

POINT = {"latitude": "39.8", "longitude": "-89.64"}


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Each test starts with no reports counted against its client address."""
    from civicpulse.core.redis_client import redis_client

    client = redis_client()
    for key in client.scan_iter(match="cp:*:form-rate:*"):
        client.delete(key)


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel 12"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90° when shown
    exif[0x8825] = {1: "N", 2: (39.0, 48.0, 0.0), 3: "W", 4: (89.0, 38.0, 24.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_form_renders_with_categories_and_the_map(client_a, tenant_a) -> None:
    from issues.services.taxonomy import area_upsert

    ring = [[-89.7, 39.7], [-89.6, 39.7], [-89.6, 39.9], [-89.7, 39.9], [-89.7, 39.7]]
    area_upsert(code="north", name="North", boundary={"type": "Polygon", "coordinates": [ring]})
    page = client_a.get("/report/").content.decode()
    assert "Potholes — Holes and damage in the road surface." in page
    assert "<svg" in page and "<title>North</title>" in page
    assert 'name="website"' in page and 'class="hp"' in page
    assert "csrfmiddlewaretoken" in page


def test_a_report_through_the_form_lands_on_its_tracking_page(client_a, tenant_a) -> None:
    response = client_a.post(
        "/report/", {"description": "Broken bench <b>now</b>", "email": "me@example.org", **POINT}
    )
    assert response.status_code == 302
    report = Report.objects.get()
    assert response["Location"] == f"/track/{report.tracking_id}/"
    assert report.channel == "web" and report.email == "me@example.org"
    page = client_a.get(response["Location"]).content.decode()
    assert report.tracking_id in page
    assert "Broken bench &lt;b&gt;now&lt;/b&gt;" in page and "<b>now</b>" not in page


def test_errors_keep_what_was_typed(client_a, tenant_a) -> None:
    response = client_a.post("/report/", {"description": "Water everywhere", "email": "not-an-email"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Water everywhere" in page  # the description is not lost
    assert "Enter a valid email address." in page
    assert Report.objects.count() == 0
    no_place = client_a.post("/report/", {"description": "Water everywhere"})
    assert no_place.status_code == 400
    assert "Give a point (latitude and longitude) or an address." in no_place.content.decode()


def test_honeypot_and_rate_limit_stop_spam(client_a, tenant_a) -> None:
    bot = client_a.post("/report/", {"description": "Buy now", "website": "http://spam.example", **POINT})
    assert bot.status_code == 400 and Report.objects.count() == 0
    statuses = [
        client_a.post(
            "/report/", {"description": f"Report {n}", **POINT}, REMOTE_ADDR="203.0.113.7"
        ).status_code
        for n in range(6)
    ]
    assert statuses[:5] == [302] * 5 and statuses[5] == 429
    assert Report.objects.count() == 5
    # Another address is not affected.
    assert (
        client_a.post("/report/", {"description": "Mine", **POINT}, REMOTE_ADDR="203.0.113.8").status_code
        == 302
    )


def test_csrf_is_required(tenant_pair, db) -> None:
    strict = Client(HTTP_HOST="alpha.localhost", enforce_csrf_checks=True)
    assert strict.post("/report/", {"description": "x", **POINT}).status_code == 403


def test_photo_is_stored_without_exif_and_upright(client_a, tenant_a) -> None:
    original = _jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif()  # the test photo does carry metadata
    upload = SimpleUploadedFile("pothole.jpg", original, content_type="image/jpeg")
    response = client_a.post("/report/", {"description": "Pothole", "photo": upload, **POINT})
    assert response.status_code == 302
    report = Report.objects.get()
    stored = report.photo.read()
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert not image.getexif() and "exif" not in image.info
    assert b"PhoneMaker" not in stored and b"GPS" not in stored
    assert image.size == (48, 64)  # the orientation was applied before the metadata went
    # Files of each tenant live under that tenant's folder.
    assert "/alpha/" in report.photo.path
    assert client_a.get(f"/track/{report.tracking_id}/photo").status_code == 200


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, format="GIF")
    return out.getvalue()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("notes.txt", b"just text", "That file is not a photo we can read."),
        ("broken.png", b"\x89PNG" + b"0" * 100, "That file is not a photo we can read."),
        ("anim.gif", _gif(), "Send a JPEG, PNG or WebP photo."),
    ],
)
def test_bad_photos_are_refused(client_a, tenant_a, name: str, content: bytes, message: str) -> None:
    response = client_a.post(
        "/report/", {"description": "With a file", "photo": SimpleUploadedFile(name, content), **POINT}
    )
    assert response.status_code == 400 and message in response.content.decode()
    assert Report.objects.count() == 0


def test_tracking_page_shows_the_issue_history_and_how_many_reported_it(client_a, tenant_a) -> None:
    for text in ("Street light out on Elm", "Street light out on Elm again"):
        client_a.post("/report/", {"description": text, **POINT}, REMOTE_ADDR="198.51.100.1")
    reports = list(Report.objects.order_by("id"))
    for report in reports:
        report_process(report_id=report.pk)
    issue = Issue.objects.get()
    issue_transition(issue_id=issue.pk, to_status="acknowledged")
    issue_transition(issue_id=issue.pk, to_status="resolved")
    page = client_a.get(f"/track/{reports[0].tracking_id.lower()}/").content.decode()
    assert "Status: Resolved" in page
    assert "One other person reported the same problem." in page
    assert "<td>Acknowledged</td>" in page and "<td>Resolved</td>" in page
    # Another resident's text is never shown on my page.
    assert "again" not in page


def test_tracking_search_and_unknown_ids(client_a, tenant_a, client_b) -> None:
    client_a.post("/report/", {"description": "Graffiti", **POINT})
    tracking_id = Report.objects.get().tracking_id
    found = client_a.get("/track/", {"id": f"{tracking_id[:5]}-{tracking_id[5:]}".lower()})
    assert found.status_code == 302 and found["Location"] == f"/track/{tracking_id}/"
    assert client_a.get("/track/ZZZZZZZZZZ/").status_code == 404
    assert client_b.get(f"/track/{tracking_id}/").status_code == 404  # another tenant's id


def test_palette_and_multi_picture_photos_are_kept(client_a, tenant_a) -> None:
    palette = Image.new("P", (10, 10))
    palette.putpalette([255, 0, 0] * 256)
    out = io.BytesIO()
    palette.save(out, format="PNG")
    mpo = io.BytesIO()
    Image.new("RGB", (20, 10), (0, 0, 255)).save(
        mpo, format="MPO", save_all=True, append_images=[Image.new("RGB", (20, 10), (0, 255, 0))]
    )
    for name, content in (("red.png", out.getvalue()), ("phone.jpg", mpo.getvalue())):
        response = client_a.post(
            "/report/", {"description": name, "photo": SimpleUploadedFile(name, content), **POINT}
        )
        assert response.status_code == 302, response.content.decode()[:500]
    red, phone = (Image.open(r.photo) for r in Report.objects.order_by("id"))
    assert red.convert("RGB").getpixel((5, 5)) == (255, 0, 0)  # colours survive the re-encoding
    assert phone.format == "JPEG" and phone.size == (20, 10)


def test_oversized_uploads_are_refused_before_they_are_read(client_a, tenant_a, settings) -> None:
    from django.core.exceptions import ValidationError

    from reports.photos import MAX_PHOTO_BYTES, photo_clean

    settings.FORM_MAX_BODY_BYTES = 50_000
    big = SimpleUploadedFile("big.jpg", b"0" * 60_000, content_type="image/jpeg")
    assert client_a.post("/report/", {"description": "Huge", "photo": big, **POINT}).status_code == 413
    with pytest.raises(ValidationError, match="up to 8 MB"):
        photo_clean(SimpleUploadedFile("big.jpg", b"0" * (MAX_PHOTO_BYTES + 1)))
    assert Report.objects.count() == 0


def test_rejected_forms_do_not_use_up_the_rate_limit(client_a, tenant_a) -> None:
    for _ in range(6):
        assert (
            client_a.post(
                "/report/", {"description": "No place given"}, REMOTE_ADDR="203.0.113.9"
            ).status_code
            == 400
        )
    assert (
        client_a.post(
            "/report/", {"description": "Now with a place", **POINT}, REMOTE_ADDR="203.0.113.9"
        ).status_code
        == 302
    )


def _form_count(address: str) -> int:
    from civicpulse.core.redis_client import redis_client

    client = redis_client()
    return sum(int(client.get(key) or 0) for key in client.scan_iter(match=f"cp:*:form-rate:{address}:*"))


def test_refused_and_failed_submissions_give_their_place_back(client_a, tenant_a, monkeypatch) -> None:
    address = "203.0.113.10"
    for n in range(5):
        assert (
            client_a.post("/report/", {"description": f"Hole {n}", **POINT}, REMOTE_ADDR=address).status_code
            == 302
        )
    # Over the limit: refused, and not counted on top of the five accepted.
    assert (
        client_a.post("/report/", {"description": "One more", **POINT}, REMOTE_ADDR=address).status_code
        == 429
    )
    assert _form_count(address) == 5

    other = "203.0.113.11"

    def broken(**kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("reports.views.report_submit", broken)
    with pytest.raises(RuntimeError):
        client_a.post("/report/", {"description": "Lost on our side", **POINT}, REMOTE_ADDR=other)
    assert _form_count(other) == 0  # a report that failed on our side is not charged


def test_rate_limit_uses_the_proxy_supplied_address(client_a, tenant_a, settings) -> None:
    settings.TRUSTED_PROXY_HOPS = 1
    for n in range(5):
        response = client_a.post(
            "/report/",
            {"description": f"Via proxy {n}", **POINT},
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR=f"1.2.3.4, 198.51.100.{n}",
        )
        assert response.status_code == 302  # five residents behind one proxy, each under the limit
    assert Report.objects.count() == 5


def test_photos_and_unsubscribe_links_are_not_reachable_from_another_tenant(
    client_a, client_b, tenant_a
) -> None:
    from reports.notifications import unsubscribe_token

    upload = SimpleUploadedFile("p.jpg", _jpeg_with_gps(), content_type="image/jpeg")
    client_a.post("/report/", {"description": "Pothole", "photo": upload, **POINT})
    report = Report.objects.get()
    token = unsubscribe_token(report.tracking_id)
    assert client_b.get(f"/track/{report.tracking_id}/photo").status_code == 404
    assert client_b.get(f"/track/{report.tracking_id}/unsubscribe/{token}").status_code == 404
