"""The resident form under a flood: photos decoded last, scaled down and one at a time;
every photo POST counted; IPv6 clients by their /64; a tenant's hourly cap and photo
storage quota; no photo file outliving a report that was not stored; and a map that
survives a degenerate area."""

import io
import re
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile

from civicpulse.core.ratelimit import address_rate_key
from reports.forms import ReportForm
from reports.models import Report
from reports.photo_codec import ADDRESS_SPACE_BYTES, MAX_DECODED_PIXELS, PhotoRefused, Reencoded, reencode
from reports.photos import photo_clean, photo_post_admitted, photo_slot
from tenants.models import Tenant

POINT = {"latitude": "39.8", "longitude": "-89.64"}
forms_full_clean = ReportForm.full_clean


pytestmark = pytest.mark.usefixtures("fresh_rate_limits")


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
def decoded_sizes(monkeypatch) -> list[tuple[int, int] | None]:
    """Each photo this process sent to a decoding process, as the size that process decoded
    it to (None: refused)."""
    from reports import photos

    sizes: list[tuple[int, int] | None] = []
    decoded = photos.photo_decoded

    def spying_decoded(data: bytes) -> Reencoded:
        try:
            done = decoded(data)
        except PhotoRefused:
            sizes.append(None)
            raise
        sizes.append(done.decoded_size)
        return done

    monkeypatch.setattr(photos, "photo_decoded", spying_decoded)
    return sizes


@pytest.fixture
def fresh_decoders():
    """No decoding process kept from a test before: the first photo starts one."""
    from reports import photos

    for idle in photos._idle_decoders:
        idle.stop()
    photos._idle_decoders.clear()
    return photos


@pytest.fixture
def loaded_sizes(monkeypatch) -> list[tuple[int, int]]:
    """The size of every image Pillow decodes pixels for in this process, as it decodes
    them (reports.photo_codec called here directly)."""
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


def test_a_40_megapixel_jpeg_is_never_decoded_whole(jpeg_40mp, loaded_sizes) -> None:
    done = reencode(jpeg_40mp)
    assert loaded_sizes and all(w * h <= MAX_DECODED_PIXELS for w, h in loaded_sizes)
    # decoded at 1/4, within the stored size: not resized
    assert done.decoded_size == (2000, 1250) and Image.open(io.BytesIO(done.data)).size == (2000, 1250)


def test_a_40_megapixel_jpeg_is_decoded_scaled_down_in_a_decoding_process(
    tenant_a, jpeg_40mp, decoded_sizes, loaded_sizes
) -> None:
    clean = photo_clean(SimpleUploadedFile("big.jpg", jpeg_40mp))
    assert decoded_sizes == [(2000, 1250)] and Image.open(io.BytesIO(clean.read())).size == (2000, 1250)
    assert loaded_sizes == []  # not in this process


def test_a_photo_over_the_stored_size_is_scaled_down(tenant_a) -> None:
    out = io.BytesIO()
    Image.new("RGB", (3000, 1000), (10, 20, 30)).save(out, format="PNG")  # 3 megapixels
    clean = photo_clean(SimpleUploadedFile("wide.png", out.getvalue()))
    assert Image.open(io.BytesIO(clean.read())).size == (2048, 683) and clean.name.endswith(".png")


def test_other_formats_above_the_decode_cap_are_refused_unread(tenant_a, loaded_sizes) -> None:
    from django.core.exceptions import ValidationError

    out = io.BytesIO()
    Image.new("RGB", (2500, 2000)).save(out, format="PNG")  # 5 megapixels
    with pytest.raises(PhotoRefused, match="too_large_not_jpeg"):
        reencode(out.getvalue())
    assert loaded_sizes == []
    with pytest.raises(ValidationError, match="PNG or WebP of up to 4 megapixels"):
        photo_clean(SimpleUploadedFile("big.png", out.getvalue()))


def test_only_the_plugins_of_the_formats_kept_read_a_file(monkeypatch) -> None:
    from PIL import GifImagePlugin

    opened: list[object] = []
    monkeypatch.setattr(GifImagePlugin.GifImageFile, "_open", lambda self: opened.append(self))
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, format="GIF")
    with pytest.raises(PhotoRefused, match="format"):
        reencode(out.getvalue())
    assert opened == []


def test_a_file_that_is_not_a_photo_is_refused_with_its_reason(tenant_a) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="That file is not a photo we can read."):
        photo_clean(SimpleUploadedFile("p.jpg", b"just some text"))
    for picture_format in ("BMP", "TIFF", "GIF"):
        out = io.BytesIO()
        Image.new("RGB", (8, 8)).save(out, format=picture_format)
        with pytest.raises(ValidationError, match="Send a JPEG, PNG or WebP photo."):
            photo_clean(SimpleUploadedFile("p.bmp", out.getvalue()))


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


def test_photos_are_decoded_in_a_lower_priority_process_off_the_cpu_left_to_pages(
    tenant_a, fresh_decoders
) -> None:
    import os

    from civicpulse.core.cpus import upload_lane_cpus
    from reports import photos

    photo_clean(SimpleUploadedFile("p.jpg", _small_jpeg()))
    [decoder] = photos._idle_decoders  # one per slot, kept for the next photo
    pid = decoder.process.pid
    assert pid != os.getpid()
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, own + photos.DECODE_NICENESS)
    allowed = os.sched_getaffinity(0)
    assert os.sched_getaffinity(pid) == (upload_lane_cpus() or allowed)
    if len(allowed) > 1:
        assert min(allowed) not in os.sched_getaffinity(pid)
    photo_clean(SimpleUploadedFile("p.jpg", _small_jpeg()))
    assert [d.process.pid for d in photos._idle_decoders] == [pid]  # the same process again
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert re.search(rf"Max address space\s+{ADDRESS_SPACE_BYTES}\s+{ADDRESS_SPACE_BYTES}\s", limits)


def test_a_decoding_process_gets_none_of_the_web_process_secrets(
    tenant_a, monkeypatch, fresh_decoders
) -> None:
    photos = fresh_decoders
    monkeypatch.setenv("DATABASE_URL", "postgres://civicpulse:secret@db/civicpulse")
    monkeypatch.setenv("PILLOW_BLOCKS_MAX", "4")
    photo_clean(SimpleUploadedFile("p.jpg", _small_jpeg()))
    [decoder] = photos._idle_decoders
    names = {
        v.split(b"=", 1)[0] for v in Path(f"/proc/{decoder.process.pid}/environ").read_bytes().split(b"\0")
    }
    assert b"PILLOW_BLOCKS_MAX" in names and b"PATH" in names
    assert b"DATABASE_URL" not in names and b"DJANGO_SETTINGS_MODULE" not in names


def test_a_decoding_process_that_died_idle_is_replaced_unseen(tenant_a, fresh_decoders) -> None:
    from reports import photos

    photo_clean(SimpleUploadedFile("p.jpg", _small_jpeg()))
    [dead] = photos._idle_decoders
    dead.process.kill()
    dead.process.wait()
    clean = photo_clean(SimpleUploadedFile("p.jpg", _small_jpeg()))
    assert Image.open(io.BytesIO(clean.read())).format == "JPEG"
    [replacement] = photos._idle_decoders
    assert replacement.process.pid != dead.process.pid


def test_a_decoding_process_dying_under_a_photo_answers_busy_and_the_next_photo_is_stored(
    client_a, tenant_a, monkeypatch
) -> None:
    """Killed for its memory, say, or crashed by the file: the web process is not, the
    resident is asked to try again with what was typed kept, and a new process takes the
    next photo."""
    from reports import photos

    decoded = photos._Decoder.decoded

    def dying(self: "photos._Decoder", data: bytes) -> Reencoded:
        self.process.kill()
        self.process.wait()
        return decoded(self, data)

    monkeypatch.setattr(photos._Decoder, "decoded", dying)
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    busy = client_a.post("/report/", {"description": "Deep pothole", "photo": photo, **POINT})
    assert busy.status_code == 503 and "busy processing photos" in busy.content.decode()
    assert "Deep pothole" in busy.content.decode() and Report.objects.count() == 0
    assert photos._idle_decoders == []  # the dead process is not kept
    monkeypatch.setattr(photos._Decoder, "decoded", decoded)
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    stored = client_a.post("/report/", {"description": "Deep pothole", "photo": photo, **POINT})
    assert stored.status_code == 302 and Report.objects.get().photo_bytes > 0


@pytest.mark.parametrize(
    "ending, status, message",
    [
        ("SIGKILL", 503, "busy processing photos"),  # killed for its memory, say: try again
        ("SIGSEGV", 400, "That file is not a photo we can read."),  # crashed by the file: it would again
    ],
)
def test_a_decoding_process_ending_once_it_has_the_photo(
    client_a, tenant_a, monkeypatch, fresh_decoders, ending: str, status: int, message: str
) -> None:
    import os
    import signal

    photos = fresh_decoders
    write = photos.frame_write

    def write_then_end(stream, data: bytes) -> None:  # type: ignore[no-untyped-def]
        write(stream, data)
        [decoder] = [d for d in started if d.process.stdin is stream]
        os.kill(decoder.process.pid, getattr(signal, ending))

    started: list[object] = []
    start = photos._Decoder.__init__

    def recorded_start(self) -> None:  # type: ignore[no-untyped-def]
        start(self)
        started.append(self)

    monkeypatch.setattr(photos._Decoder, "__init__", recorded_start)
    monkeypatch.setattr(photos, "frame_write", write_then_end)
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    answered = client_a.post("/report/", {"description": "Deep pothole", "photo": photo, **POINT})
    assert answered.status_code == status and message in answered.content.decode()
    assert "Deep pothole" in answered.content.decode() and Report.objects.count() == 0
    assert photos._idle_decoders == [] and started[0].process.returncode == -getattr(signal, ending)


def test_a_jpeg_of_thousands_of_scans_is_refused_before_it_is_decoded() -> None:
    """Each scan of a progressive JPEG is decoded over the whole picture: a small file of
    thousands of tiny scans would hold a decoder for its whole timeout."""
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out, format="JPEG", progressive=True)
    progressive = out.getvalue()
    assert reencode(progressive).extension == "jpg"  # an ordinary progressive JPEG: kept
    last_scan = progressive[progressive.rindex(b"\xff\xda") : -2]  # up to the end marker
    bomb = progressive[:-2] + last_scan * 3000 + progressive[-2:]
    first_scan = bomb.index(b"\xff\xda")
    for stray in (b"", b"\0", b"\xff\xd0", b"\xff\0"):  # bytes its decoder skips, before the scans
        with pytest.raises(PhotoRefused) as refused:
            reencode(bomb[:first_scan] + stray + bomb[first_scan:])
        assert refused.value.reason == "too_slow"
    # a phone's motion photo: the video after the picture's end is not counted
    motion = progressive + b"\0\0\0\x18ftypmp42" + b"\xff\xda\x12\x34" * 5000
    assert reencode(motion).extension == "jpg"


def test_a_png_whose_text_inflates_past_pillows_limit_is_refused_not_an_error(client_a, tenant_a) -> None:
    import struct
    import zlib

    text = b"Comment\0\0" + zlib.compress(b"\0" * 2_000_000)  # 2 MB of text, sent as 2 KB
    chunk = struct.pack(">I", len(text)) + b"zTXt" + text + struct.pack(">I", zlib.crc32(b"zTXt" + text))
    png = _png((1, 2, 3))
    photo = SimpleUploadedFile("p.png", png[:33] + chunk + png[33:], content_type="image/png")
    refused = client_a.post("/report/", {"description": "Deep pothole", "photo": photo, **POINT})
    assert refused.status_code == 400 and "That file is not a photo we can read." in refused.content.decode()


def test_a_photo_too_slow_to_decode_is_refused_and_its_process_stopped(
    client_a, tenant_a, settings, fresh_decoders
) -> None:
    import os
    import signal

    photo_clean(SimpleUploadedFile("p.jpg", _small_jpeg()))  # a decoding process, started
    [slow] = fresh_decoders._idle_decoders
    os.kill(slow.process.pid, signal.SIGSTOP)  # it takes the next photo, and never answers
    settings.PHOTO_DECODE_TIMEOUT_S = 0.3
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    refused = client_a.post("/report/", {"description": "Deep pothole", "photo": photo, **POINT})
    assert refused.status_code == 400 and "That photo is too large." in refused.content.decode()
    assert slow.process.poll() is not None and fresh_decoders._idle_decoders == []
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    stored = client_a.post("/report/", {"description": "Deep pothole", "photo": photo, **POINT})
    assert stored.status_code == 302 and Report.objects.get().photo_bytes > 0


def test_a_decoding_process_left_with_part_of_an_answer_is_never_used_again(
    tenant_a, monkeypatch, fresh_decoders
) -> None:
    """An answer read in part (an error on this side) would be read by the next photo as
    its own: another resident's photo."""
    from reports import photos

    photo_clean(SimpleUploadedFile("p.jpg", _small_jpeg()))
    [decoder] = photos._idle_decoders

    def failing_read(stream: object) -> Reencoded:
        raise MemoryError

    monkeypatch.setattr(photos, "answer_read", failing_read)
    with pytest.raises(MemoryError):
        photo_clean(SimpleUploadedFile("p.jpg", _small_jpeg()))
    assert decoder.process.poll() is not None and photos._idle_decoders == []
    monkeypatch.undo()
    first = SimpleUploadedFile("a.png", _png((10, 20, 30)))
    second = SimpleUploadedFile("b.png", _png((200, 100, 50)))
    for upload, colour in ((first, (10, 20, 30)), (second, (200, 100, 50))):
        assert Image.open(io.BytesIO(photo_clean(upload).read())).getpixel((0, 0)) == colour


def test_the_web_process_never_opens_a_photo_itself(client_a, tenant_a, monkeypatch) -> None:
    opened: list[object] = []
    monkeypatch.setattr(Image, "open", lambda *args, **kwargs: opened.append(args) or pytest.fail("opened"))
    photo = SimpleUploadedFile("p.jpg", _small_jpeg(), content_type="image/jpeg")
    stored = client_a.post("/report/", {"description": "Deep pothole", "photo": photo, **POINT})
    assert stored.status_code == 302 and Report.objects.get().photo_bytes > 0 and opened == []


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(out, format="PNG")
    return out.getvalue()


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

    def refuse(report: Report) -> None:
        raise RuntimeError("the insert failed")

    monkeypatch.setattr("reports.services.intake._report_insert", refuse)
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
