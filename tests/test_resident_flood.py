"""The resident form under a flood: photos decoded last, scaled down and one at a time;
every photo POST counted; IPv6 clients by their /64; a tenant's hourly cap and photo
storage quota; no photo file outliving a report that was not stored; and a map that
survives a degenerate area."""

import io
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile

from civicpulse.core.ratelimit import address_rate_key
from reports.forms import ReportForm
from reports.models import Report
from reports.photos import MAX_DECODED_PIXELS, photo_clean, photo_post_admitted, photo_slot
from tenants.models import Tenant

POINT = {"latitude": "39.8", "longitude": "-89.64"}
forms_full_clean = ReportForm.full_clean


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    from civicpulse.core.redis_client import redis_client

    client = redis_client()
    for pattern in ("cp:*:form-rate:*", "cp:*:tenant-hour:*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)


@pytest.fixture(scope="module")
def jpeg_40mp() -> bytes:
    """A file of a few hundred kilobytes that decodes to 40 megapixels."""
    out = io.BytesIO()
    Image.new("RGB", (8000, 5000), (120, 120, 120)).save(out, format="JPEG", quality=50)
    return out.getvalue()


def _small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def decoded_sizes(monkeypatch) -> list[tuple[int, int]]:
    """The size of every image Pillow decodes pixels for, as it decodes them."""
    sizes: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def spying_load(self: ImageFile.ImageFile):  # type: ignore[no-untyped-def]
        if self.tile:  # not yet decoded
            sizes.append(self.size)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spying_load)
    return sizes


def test_an_invalid_report_is_refused_before_its_photo_is_decoded(client_a, tenant_a, decoded_sizes) -> None:
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    response = client_a.post("/report/", {"description": "No place given", "photo": photo})
    assert response.status_code == 400
    assert "Give a point (latitude and longitude) or an address." in response.content.decode()
    assert decoded_sizes == []


def test_a_40_megapixel_jpeg_is_never_decoded_whole(tenant_a, jpeg_40mp, decoded_sizes) -> None:
    clean = photo_clean(SimpleUploadedFile("big.jpg", jpeg_40mp))
    assert decoded_sizes and all(w * h <= MAX_DECODED_PIXELS for w, h in decoded_sizes)
    # decoded at 1/4, within the stored size: not resized
    assert Image.open(io.BytesIO(clean.read())).size == (2000, 1250)


def test_a_photo_is_encoded_in_memory_without_a_writable_temporary_directory(tenant_a, monkeypatch) -> None:
    import tempfile

    def no_temporary_directory() -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_temporary_directory)
    clean = photo_clean(SimpleUploadedFile("p.jpg", _small_jpeg()))
    assert Image.open(io.BytesIO(clean.read())).format == "JPEG"


def test_a_photo_over_the_stored_size_is_scaled_down(tenant_a) -> None:
    out = io.BytesIO()
    Image.new("RGB", (3000, 1000), (10, 20, 30)).save(out, format="PNG")  # 3 megapixels
    clean = photo_clean(SimpleUploadedFile("wide.png", out.getvalue()))
    assert Image.open(io.BytesIO(clean.read())).size == (2048, 683)


def test_other_formats_above_the_decode_cap_are_refused_unread(tenant_a, decoded_sizes) -> None:
    from django.core.exceptions import ValidationError

    out = io.BytesIO()
    Image.new("RGB", (2500, 2000)).save(out, format="PNG")  # 5 megapixels
    with pytest.raises(ValidationError, match="PNG or WebP of up to 4 megapixels"):
        photo_clean(SimpleUploadedFile("big.png", out.getvalue()))
    assert decoded_sizes == []


def test_every_post_carrying_a_photo_counts_against_the_address(client_a, tenant_a, decoded_sizes) -> None:
    address = "203.0.113.20"
    for n in range(5):
        photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
        response = client_a.post(
            "/report/", {"description": f"No place {n}", "photo": photo}, REMOTE_ADDR=address
        )
        assert response.status_code == 400  # refused, and counted all the same
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    over = client_a.post(
        "/report/", {"description": "Now valid", "photo": photo, **POINT}, REMOTE_ADDR=address
    )
    assert over.status_code == 429 and int(over["Retry-After"]) > 0
    assert "Too many reports from this connection" in over.content.decode()
    assert "Now valid" in over.content.decode()  # what was typed is kept
    assert decoded_sizes == [] and Report.objects.count() == 0


def test_a_photo_finding_no_slot_is_turned_away_before_any_checking(
    client_a, tenant_a, settings, decoded_sizes, monkeypatch
) -> None:
    settings.PHOTO_SLOT_WAIT_S = 0.05
    validated: list[bool] = []  # for each form checked: did it hold the photo?
    monkeypatch.setattr(
        "reports.views.ReportForm.full_clean",
        lambda form: validated.append(bool(form.files)) or forms_full_clean(form),
    )
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    with photo_slot():  # every slot of this process is taken (one by default)
        busy = client_a.post("/report/", {"description": "Pothole", "photo": photo, **POINT})
    assert busy.status_code == 503 and busy["Retry-After"] == "60"
    assert "busy processing photos" in busy.content.decode() and "Pothole" in busy.content.decode()
    assert Report.objects.count() == 0 and decoded_sizes == []
    assert validated == [False]  # only the form shown back, without its photo: nothing was opened
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    assert client_a.post("/report/", {"description": "Pothole", "photo": photo, **POINT}).status_code == 302


def test_a_slot_taken_between_the_check_and_the_decoding_also_answers_503(
    client_a, tenant_a, monkeypatch
) -> None:
    monkeypatch.setattr("reports.views.photo_slot_free", lambda: True)  # the slot was free a moment ago
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    with photo_slot():
        busy = client_a.post("/report/", {"description": "Pothole", "photo": photo, **POINT})
    assert busy.status_code == 503 and "busy processing photos" in busy.content.decode()
    assert Report.objects.count() == 0


def _photo_of(size: int) -> SimpleUploadedFile:
    """A JPEG padded (after its end marker, as many real files are) to `size` bytes."""
    data = _small_jpeg()
    return SimpleUploadedFile("p.jpg", data + b"\0" * (size - len(data)), content_type="image/jpeg")


@pytest.fixture
def bodies_parsed(monkeypatch) -> list[bool]:
    """One entry for each multipart body Django parses."""
    from django.http.multipartparser import MultiPartParser

    parsed: list[bool] = []
    parse = MultiPartParser.parse

    def spying_parse(self: MultiPartParser) -> tuple[object, object]:
        parsed.append(True)
        return parse(self)

    monkeypatch.setattr(MultiPartParser, "parse", spying_parse)
    return parsed


def test_a_large_photo_post_finding_no_slot_is_turned_away_unread(client_a, tenant_a, bodies_parsed) -> None:
    from reports.views import FORM_TEXT_MAX_BYTES

    with photo_slot():
        busy = client_a.post(
            "/report/", {"description": "Pothole", "photo": _photo_of(FORM_TEXT_MAX_BYTES + 1), **POINT}
        )
    assert busy.status_code == 503 and busy["Retry-After"] == "60"
    page = busy.content.decode()
    assert "busy processing photos" in page and "Back button" in page
    assert bodies_parsed == [] and Report.objects.count() == 0


def test_a_large_photo_post_is_read_only_while_few_are_in_flight(client_a, tenant_a, bodies_parsed) -> None:
    """Every place for a photo post in flight taken (each by a post still being read or
    decoded): one more is turned away unread although the decoding slot is free; once
    they are answered, it is read and stored, and leaves every place free behind it."""
    from reports.views import FORM_TEXT_MAX_BYTES

    def post(address: str) -> int:
        data = {"description": "Pothole", "photo": _photo_of(FORM_TEXT_MAX_BYTES + 1), **POINT}
        return client_a.post("/report/", data, REMOTE_ADDR=address).status_code

    with ExitStack() as in_flight:
        places = [
            in_flight.enter_context(photo_post_admitted()) for _ in range(settings.PHOTO_POSTS_IN_FLIGHT)
        ]
        assert all(places)
        busy = client_a.post(
            "/report/",
            {"description": "Pothole", "photo": _photo_of(FORM_TEXT_MAX_BYTES + 1), **POINT},
            REMOTE_ADDR="203.0.113.23",
        )
        assert busy.status_code == 503 and "busy processing photos" in busy.content.decode()
        assert bodies_parsed == []
    assert post("203.0.113.24") == 302 and bodies_parsed == [True]
    with ExitStack() as in_flight:
        assert all(
            in_flight.enter_context(photo_post_admitted()) for _ in range(settings.PHOTO_POSTS_IN_FLIGHT)
        )
        assert not in_flight.enter_context(photo_post_admitted())  # and no more than that


def test_large_photo_posts_are_counted_against_the_address_unread(client_a, tenant_a, bodies_parsed) -> None:
    from reports.views import FORM_TEXT_MAX_BYTES

    address = "203.0.113.21"
    with photo_slot():  # five posts turned away busy: each counted all the same
        for n in range(5):
            data = {"description": f"Hole {n}", "photo": _photo_of(FORM_TEXT_MAX_BYTES + 1), **POINT}
            assert client_a.post("/report/", data, REMOTE_ADDR=address).status_code == 503
    data = {"description": "Hole 6", "photo": _photo_of(FORM_TEXT_MAX_BYTES + 1), **POINT}
    over = client_a.post("/report/", data, REMOTE_ADDR=address)
    assert over.status_code == 429 and int(over["Retry-After"]) > 0
    assert "Too many reports from this connection" in over.content.decode()
    assert bodies_parsed == [] and Report.objects.count() == 0


def test_a_large_photo_post_let_in_is_checked_for_csrf_and_stored_counted_once(tenant_pair, tenant_a) -> None:
    from django.test import Client

    from civicpulse.core.redis_client import redis_client
    from reports.views import FORM_TEXT_MAX_BYTES
    from tests.conftest import host_of

    browser = Client(HTTP_HOST=host_of(tenant_pair[0]), enforce_csrf_checks=True)
    data = {"description": "Pothole", "photo": _photo_of(FORM_TEXT_MAX_BYTES + 1), **POINT}
    assert browser.post("/report/", data).status_code == 403  # no token: the gate lets nothing past CSRF
    browser.get("/report/")
    token = browser.cookies["csrftoken"].value
    data = {"description": "Pothole", "photo": _photo_of(FORM_TEXT_MAX_BYTES + 1), **POINT}
    accepted = browser.post("/report/", {**data, "csrfmiddlewaretoken": token}, REMOTE_ADDR="203.0.113.22")
    assert accepted.status_code == 302 and Report.objects.get().photo_bytes > 0
    counted = redis_client().scan_iter(match="cp:alpha:form-rate:*203.0.113.22*")
    assert [redis_client().get(key) for key in counted] == [b"1"]


def test_photos_are_decoded_on_a_lower_priority_thread_off_the_cpu_left_to_pages(
    tenant_a, monkeypatch
) -> None:
    import os
    import threading

    from civicpulse.core.cpus import upload_lane_cpus
    from reports.photos import DECODE_NICENESS

    seen: list[tuple[int, int, set[int]]] = []  # (thread, niceness, CPUs) of each decoding
    load = ImageFile.ImageFile.load

    def spying_load(self: ImageFile.ImageFile) -> object:
        thread = threading.get_native_id()
        seen.append((thread, os.getpriority(os.PRIO_PROCESS, thread), os.sched_getaffinity(thread)))
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spying_load)
    photo_clean(SimpleUploadedFile("p.jpg", _small_jpeg()))
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen and all(
        t != threading.get_native_id() and n == min(19, own + DECODE_NICENESS) for t, n, _ in seen
    )
    allowed = os.sched_getaffinity(0)
    assert all(cpus == (upload_lane_cpus() or allowed) for _, _, cpus in seen)
    if len(allowed) > 1:
        assert all(min(allowed) not in cpus for _, _, cpus in seen)


@pytest.mark.parametrize(
    "address, key",
    [
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("198.51.100.7", "198.51.100.7"),
        ("not an address", "not an address"),
    ],
)
def test_ipv6_clients_are_counted_by_their_64(address: str, key: str) -> None:
    assert address_rate_key(address) == key


def test_one_ipv6_64_shares_one_form_limit(client_a, tenant_a) -> None:
    for n in range(1, 6):
        response = client_a.post(
            "/report/", {"description": f"Hole {n}", **POINT}, REMOTE_ADDR=f"2001:db8:5:6::{n}"
        )
        assert response.status_code == 302
    same_64 = client_a.post(
        "/report/", {"description": "Hole 6", **POINT}, REMOTE_ADDR="2001:db8:5:6:ffff::1"
    )
    assert same_64.status_code == 429
    other_64 = client_a.post("/report/", {"description": "Hole 7", **POINT}, REMOTE_ADDR="2001:db8:5:7::1")
    assert other_64.status_code == 302


def test_the_tenant_hourly_cap_stops_resident_reports_with_a_message(client_a, tenant_a, client_b) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(resident_reports_per_hour=2)
    statuses = [
        client_a.post(
            "/report/", {"description": f"Light {n}", **POINT}, REMOTE_ADDR=f"198.51.100.{n}"
        ).status_code
        for n in range(3)
    ]
    assert statuses == [302, 302, 429]
    refused = client_a.post("/report/", {"description": "Light 9", **POINT}, REMOTE_ADDR="198.51.100.9")
    assert "unusual number of reports in the last hour" in refused.content.decode()
    assert Report.objects.count() == 2
    # Refused reports are not charged: the cap counts what was accepted.
    from civicpulse.core.redis_client import redis_client

    redis = redis_client()
    assert sum(int(redis.get(k) or 0) for k in redis.scan_iter(match="cp:alpha:tenant-hour:*")) == 2
    # Another tenant has a cap of its own.
    assert client_b.post("/report/", {"description": "Lamp", **POINT}).status_code == 302


def test_a_full_photo_store_refuses_the_photo_and_keeps_the_report_text(client_a, tenant_a) -> None:
    Tenant.objects.filter(pk=tenant_a.pk).update(photo_storage_quota_mb=1)
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    first = client_a.post("/report/", {"description": "First", "photo": photo, **POINT})
    assert first.status_code == 302
    stored = Report.objects.get()
    assert stored.photo_bytes == stored.photo.size > 0
    Report.objects.filter(pk=stored.pk).update(photo_bytes=1024 * 1024)  # the megabyte is used up
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    full = client_a.post(
        "/report/", {"description": "Second", "photo": photo, **POINT}, REMOTE_ADDR="198.51.100.30"
    )
    assert full.status_code == 400
    page = full.content.decode()
    assert "photo storage is full: please send your report without the photo" in page and "Second" in page
    without = client_a.post("/report/", {"description": "Second", **POINT}, REMOTE_ADDR="198.51.100.30")
    assert without.status_code == 302


def _stored_photos(tenant: Tenant) -> list[Path]:
    return sorted((Path(settings.MEDIA_ROOT) / tenant.schema_name).rglob("*.jpg"))


def test_no_photo_file_outlives_a_report_that_was_not_stored(client_a, tenant_a, monkeypatch) -> None:
    before = _stored_photos(tenant_a)

    def refuse(self: Report, *args: object, **kwargs: object) -> None:
        raise RuntimeError("the insert failed")

    monkeypatch.setattr(Report, "save", refuse)
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    with pytest.raises(RuntimeError):
        client_a.post("/report/", {"description": "Lost", "photo": photo, **POINT})
    assert _stored_photos(tenant_a) == before


@pytest.mark.parametrize(
    "ring",
    [
        [[-89.7, 39.7], [-89.6, 39.8], [-89.5, 39.9], [-89.7, 39.7]],  # collinear
        [[-89.7, 39.7], [-89.7, 39.8], [-89.7, 39.9], [-89.7, 39.7]],  # one longitude
        [[-89.7, 39.7], [-89.6, 39.7], [-89.5, 39.7], [-89.7, 39.7]],  # one latitude
        [[-89.7, 39.7], [-89.7, 39.7], [-89.7, 39.7], [-89.7, 39.7]],  # one point
    ],
)
def test_a_degenerate_area_does_not_break_the_report_form(client_a, tenant_a, ring: list) -> None:
    from issues.models import Area

    Area.objects.create(code="flat", name="Flat", boundary={"type": "Polygon", "coordinates": [ring]})
    response = client_a.get("/report/")
    assert response.status_code == 200
    assert "<title>Flat</title>" not in response.content.decode()


def test_anonymous_open311_reads_are_throttled_per_ipv6_64(client_a, tenant_a, settings) -> None:
    from civicpulse.core.redis_client import redis_client

    for key in redis_client().scan_iter(match="cp:*:throttle:anon:*"):
        redis_client().delete(key)
    settings.API_ANON_RATE_PER_MINUTE = 2
    statuses = [
        client_a.get("/open311/v2/services.json", REMOTE_ADDR=f"2001:db8:9:9::{n}").status_code
        for n in range(1, 4)
    ]
    assert statuses == [200, 200, 429]
    assert client_a.get("/open311/v2/services.json", REMOTE_ADDR="2001:db8:9:a::1").status_code == 200
