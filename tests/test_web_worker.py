"""The web worker (civicpulse/web_worker.py): uploads are read by the event loop before a
thread takes them, so a client that stops halfway through its photo holds no thread and
is answered 408 when its time is up, while other uploads and pages are served."""

import http.client
import io
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import pytest
from django_tenants.utils import tenant_context
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.message import Request
from gunicorn.http.unreader import Unreader
from PIL import Image

from civicpulse.web_requests import BufferedUnreader, WholeReadBody, request_size
from civicpulse.web_worker import (
    UPLOAD_MIN_BYTES,
    Upload,
    UploadLaneWorker,
)
from tenants.models import Tenant
from tests.support.services import committed_tenant, web_server

SLUG = "upload-lane-city"

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")  # many photo posts from one address


def _head(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


PHOTO_HEAD = _head("POST /report/ HTTP/1.1", "Host: x", "content-length: 700000")


API_HEAD = _head("POST /api/v1/reports/ HTTP/1.1", "Host: x", "Content-Length: 300")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (_head("GET /report/ HTTP/1.1", "Host: x"), None),
        (_head("POST /report/ HTTP/1.1", "Host: x", "Content-Length: 0"), None),
        (API_HEAD, len(API_HEAD) + 300),
        (PHOTO_HEAD, len(PHOTO_HEAD) + 700_000),
        (_head("POST /report/ HTTP/1.1", "Transfer-Encoding: chunked"), -1),
        (_head("POST /report/ HTTP/1.1", "Content-Length: 700000", "Expect: 100-continue"), -1),
        (b"POST /report/ HTTP/1.1\r\nHost: x\r\nContent-Len", -1),  # the head still on its way
        # no body is that large: left to gunicorn, which refuses it (int() would raise here,
        # in the event loop, and end the process)
        (_head("POST /report/ HTTP/1.1", "Content-Length: " + "1" * 5000), -1),
    ],
)
def test_a_request_is_placed_by_its_head(head: bytes, expected: int | None) -> None:
    assert request_size(head) == expected


def test_what_was_read_ahead_is_served_before_the_socket() -> None:
    client, server = socket.socketpair()
    with client, server:
        client.sendall(b"then the socket")
        unreader = BufferedUnreader(server, deque([b"read ", b"ahead, "]))
        assert unreader.read(27) == b"read ahead, then the socket"


class _Pieces(Unreader):
    """A connection's bytes as they came off the socket: 64 KB pieces."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.pieces = deque(data[i : i + 65536] for i in range(0, len(data), 65536))
        self.asked = 0

    def chunk(self) -> bytes:
        self.asked += 1
        return self.pieces.popleft() if self.pieces else b""


class _CountingLengthReader(LengthReader):
    calls = 0

    def read(self, size: int) -> bytes:
        self.calls += 1
        return super().read(size)


def test_a_body_is_read_in_the_sizes_asked_for_not_a_kilobyte_at_a_time() -> None:
    body = bytes(range(256)) * 2400 + b"tail"  # 600 KB
    ours = _CountingLengthReader(_Pieces(body + b"GET /next"), len(body))
    theirs = _CountingLengthReader(_Pieces(body + b"GET /next"), len(body))
    read = []
    for reader, wrapper in ((ours, WholeReadBody), (theirs, Body)):
        stream, parts = wrapper(reader), []
        for size in (1, 1000, 65536, 70000, None):
            parts.append(stream.read(size))
        read.append(b"".join(parts))
        assert stream.read(10) == b""
        assert reader.unreader.read() == b"GET /next"  # the next request is left as it was
    assert read == [body, body]
    # Each of the six reads of ours asks its reader once (twice at the end of the body):
    # gunicorn's asks for each kilobyte, and the reader copies what is left of its 64 KB
    # piece every time.
    assert ours.calls <= 2 * 6 and theirs.calls > 500


def test_a_chunked_body_reads_the_same_through_it() -> None:
    chunked = (
        b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (b"a" * 70000, b"b" * 10)) + b"0\r\n\r\n"
    )
    # A request with no trailers: ChunkedReader reads nothing else of it.
    request = Request.__new__(Request)
    request.headers = []
    stream = WholeReadBody(ChunkedReader(request, _Pieces(chunked)))
    assert stream.read(5) == b"aaaaa"
    assert stream.read() == b"a" * 69995 + b"b" * 10


def test_every_request_body_is_read_through_it(monkeypatch) -> None:
    """And the connection's reader knows the request, to close its connection when its
    time is up."""
    from types import SimpleNamespace

    from gunicorn.workers.gthread import ThreadWorker

    from civicpulse.web_worker import UploadLaneWorker

    served = []

    def served_by_gunicorn(self: ThreadWorker, req: SimpleNamespace, conn: SimpleNamespace) -> bool:
        served.append((type(req.body), req.body.read()))  # an application reading it all
        return True

    monkeypatch.setattr(ThreadWorker, "handle_request", served_by_gunicorn)
    client, server = socket.socketpair()
    with client, server:
        unreader = BufferedUnreader(server, deque())
        connection = SimpleNamespace(parser=SimpleNamespace(unreader=unreader))
        request = SimpleNamespace(body=Body(LengthReader(_Pieces(b"photo"), 5)))
        # kept alive: its body was read
        assert UploadLaneWorker.handle_request(
            UploadLaneWorker.__new__(UploadLaneWorker), request, connection
        )
    assert served == [(WholeReadBody, b"photo")]
    assert unreader.request is request


def test_past_its_deadline_a_request_ends_and_its_connection_closes() -> None:
    from types import SimpleNamespace

    from gunicorn.http.errors import NoMoreData

    client, server = socket.socketpair()
    with client, server:
        client.sendall(b"too late")
        unreader = BufferedUnreader(server, deque([b"read ahead"]))
        closed = []
        unreader.request = SimpleNamespace(force_close=lambda: closed.append(True))
        unreader.deadline = time.monotonic() - 1
        assert unreader.chunk() == b"read ahead"  # already in: served whatever the time
        with pytest.raises(NoMoreData):
            unreader.chunk()  # the socket is not read again, its bytes never taken as a request
        assert closed == [True] and server.recv(100) == b"too late"


def _csrf(browser: http.client.HTTPConnection, host: str) -> tuple[str, str]:
    """The CSRF cookie and the form's token, from one GET /report/ on `browser`."""
    browser.request("GET", "/report/", headers={"Host": host})
    with browser.getresponse() as page:
        html = page.read()
        cookie = re.search(r"csrftoken=([^;]+)", page.getheader("Set-Cookie") or "")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert page.status == 200 and cookie and token
    return cookie.group(1), token.group(1).decode()


def _page_answered(port: int, host: str, within_s: float) -> bool:
    """Whether a page on a new connection is answered within `within_s` seconds."""
    page = http.client.HTTPConnection("127.0.0.1", port, timeout=within_s)
    try:
        page.request("GET", "/healthz", headers={"Host": host})
        with page.getresponse() as health:
            health.read()
        return health.status == 200
    except TimeoutError:
        return False
    finally:
        page.close()


def _photo() -> bytes:
    """A JPEG larger than UPLOAD_MIN_BYTES: noise does not compress."""
    out = io.BytesIO()
    Image.effect_noise((500, 400), 80).convert("RGB").save(out, format="JPEG", quality=95)
    assert len(out.getvalue()) > UPLOAD_MIN_BYTES
    return out.getvalue()


def _photo_posted(
    browser: http.client.HTTPConnection, host: str, cookie: str, token: str
) -> http.client.HTTPResponse:
    """A resident's report with a photo over UPLOAD_MIN_BYTES, posted on `browser`; its
    answer, read."""
    boundary = uuid.uuid4().hex
    fields = {"description": "Streetlight out", "latitude": "39.8", "longitude": "-89.64"}
    fields["csrfmiddlewaretoken"] = token
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    body += _photo() + f"\r\n--{boundary}--\r\n".encode()
    headers = {
        "Host": host,
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Cookie": f"csrftoken={cookie}",
    }
    browser.request("POST", "/report/", body, headers)
    with browser.getresponse() as posted:
        posted.read()
    return posted


@dataclass
class _Lane:
    """A real server of the test tenant, and a browser holding its form's CSRF cookie."""

    tenant: Tenant
    port: int
    host: str
    browser: http.client.HTTPConnection
    cookie: str
    token: str

    def photo_posted(self) -> http.client.HTTPResponse:
        return _photo_posted(self.browser, self.host, self.cookie, self.token)

    def continue_head(self) -> bytes:
        """A photo post's head asking for "100 Continue", with the CSRF cookie, so that the
        view would wait for the form's token in the body."""
        return _head(
            "POST /report/ HTTP/1.1",
            f"Host: {self.host}",
            "Content-Type: multipart/form-data; boundary=x",
            "Content-Length: 100000",
            "Expect: 100-continue",
            f"Cookie: csrftoken={self.cookie}",
        )


@contextmanager
def _lane(django_db_blocker, extra: dict[str, str] | None = None, timeout: float = 20) -> Iterator[_Lane]:
    """The test tenant served by a real gunicorn with `extra` settings, and a browser that
    got its form's CSRF cookie and token (its requests time out after `timeout`)."""
    with django_db_blocker.unblock(), committed_tenant(SLUG, "Upload Lane City", "city") as tenant:
        with web_server(extra) as port:
            host = f"{SLUG}.localhost:{port}"
            browser = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            cookie, token = _csrf(browser, host)
            try:
                yield _Lane(tenant, port, host, browser, cookie, token)
            finally:
                browser.close()


@contextmanager
def _stalled_upload(port: int, host: str, cookie: str) -> Iterator[socket.socket]:
    """A photo post that stops a kilobyte into its photo, of 100 KB announced (with the
    CSRF cookie, so that the view would wait for its token in the body)."""
    stalled = socket.create_connection(("127.0.0.1", port), timeout=30)
    with stalled:
        stalled.sendall(
            _head(
                "POST /report/ HTTP/1.1",
                f"Host: {host}",
                "Content-Type: multipart/form-data; boundary=x",
                "Content-Length: 100000",
                f"Cookie: csrftoken={cookie}",
            )
            + b'--x\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n\r\n'
            + b"\xff" * 1000
        )
        yield stalled


def _admitting_worker(burst: int, memory: int) -> UploadLaneWorker:
    """A worker as init_process leaves it, for its read-ahead bookkeeping alone."""
    import selectors
    from threading import RLock

    worker = UploadLaneWorker.__new__(UploadLaneWorker)
    worker._lock, worker.poller = RLock(), selectors.DefaultSelector()
    worker.uploads, worker.parked, worker._keep = {}, deque(), deque()
    worker.buffered = worker.fast = worker.nr_conns = 0
    worker.burst_budget, worker.buffer_budget, worker.body_timeout = burst, memory, 60.0
    return worker


def _arriving(size: int, started: float | None = None) -> tuple[Upload, socket.socket]:
    """An upload of `size` bytes whose head is in, and its client's end."""
    from types import SimpleNamespace

    client, server = socket.socketpair()
    conn = SimpleNamespace(sock=server, close=server.close)
    upload = Upload(conn, time.monotonic() if started is None else started)  # type: ignore[arg-type]
    upload.expected = size
    return upload, client


def _closed(*arrivals: tuple[Upload, socket.socket]) -> None:
    for upload, client in arrivals:
        client.close()
        upload.conn.sock.close()


def test_uploads_arriving_together_are_read_a_few_at_a_time_and_slow_ones_give_back_the_burst() -> None:
    """A flood's posts arrive together: a process reads as many as UPLOAD_BURST_BYTES
    holds (one whatever its size), the others wait unread, holding no thread, and are
    read as those are served. An upload still arriving after UPLOAD_FAST_S (a phone on a
    slow link) gives back its part of the burst memory, so the next is read."""
    worker = _admitting_worker(burst=1_000_000, memory=32 * 1024 * 1024)
    first, second, third = (_arriving(600_000) for _ in range(3))
    small = _arriving(UPLOAD_MIN_BYTES)  # a page's or an API call's body is never held back
    for upload, _ in (first, second, third, small):
        worker._admit(upload)
    assert set(worker.uploads.values()) == {first[0], small[0]}
    assert list(worker.parked) == [second[0], third[0]]
    assert worker.poller.get_key(first[0].conn.sock) and worker.fast == 600_000
    assert worker.buffered == 600_000 + UPLOAD_MIN_BYTES

    worker._forget(first[0])  # all in and handed on; served:
    worker._release(first[0])
    assert list(worker.parked) == [third[0]] and second[0] in worker.uploads.values()
    assert worker.poller.get_key(second[0].conn.sock)

    second[0].received = 1000  # a kilobyte in, and then nothing for a while
    worker._slow_noted(second[0].started + 0.5)
    assert list(worker.parked) == [third[0]]  # still within its first second
    worker._slow_noted(second[0].started + 1.5)
    # it gives back its part of the burst memory, not its size of the read-ahead memory
    assert second[0].slow and second[0].burst == 0 and second[0].reserved == 600_000
    assert list(worker.parked) == [] and third[0] in worker.uploads.values()
    assert (worker.fast, worker.buffered) == (600_000, 2 * 600_000 + UPLOAD_MIN_BYTES)
    for upload, _ in (second, third, small):
        worker._drop(upload)  # gone, or timed out
    assert (worker.fast, worker.buffered) == (0, 0)
    _closed(first, second, third, small)


def test_a_single_upload_larger_than_the_burst_memory_is_read_all_the_same() -> None:
    """Whatever its size, while no other upload holds any of the burst memory: a page's or
    an API call's body still on its way holds none of it."""
    worker = _admitting_worker(burst=100_000, memory=32 * 1024 * 1024)
    small, large = _arriving(UPLOAD_MIN_BYTES), _arriving(8_000_000)
    worker._admit(small[0])
    worker._admit(large[0])
    assert large[0] in worker.uploads.values() and not worker.parked
    _closed(small, large)


def test_uploads_wait_in_the_order_they_came_and_slow_ones_keep_their_memory() -> None:
    """An upload arriving behind others that wait, waits behind them, even where it would
    fit; and uploads that turned slow still hold their size of the read-ahead memory, so
    clients holding connections open cannot make a process read more than
    UPLOAD_BUFFER_BYTES: the next upload waits."""
    worker = _admitting_worker(burst=1_000_000, memory=1_300_000)
    first, second, later = _arriving(600_000), _arriving(600_000), _arriving(100_000)
    for upload, _ in (first, second, later):
        worker._admit(upload)
    assert list(worker.parked) == [second[0], later[0]]  # the later one fits, but came later
    worker._slow_noted(first[0].started + 1.5)  # the first stalls
    assert list(worker.parked) == [] and worker.buffered == 1_300_000
    worker._slow_noted(time.monotonic() + 1.5)  # every upload stalls
    fourth = _arriving(200_000)
    worker._admit(fourth[0])
    assert worker.fast == 0 and list(worker.parked) == [fourth[0]]  # no memory left
    _closed(first, second, later, fourth)


def test_an_upload_waiting_for_memory_stalled_uploads_hold_is_passed_by_those_that_fit() -> None:
    """Memory that stalled uploads hold may be held for minutes: a large upload waiting
    for it keeps no smaller one that fits waiting behind it, as it arrives or as room
    frees, until it has waited half of UPLOAD_BODY_TIMEOUT_S; then it keeps its turn."""
    worker = _admitting_worker(burst=2_000_000, memory=1_500_000)
    stalled, large, photo = _arriving(1_000_000), _arriving(1_000_000), _arriving(400_000)
    worker._admit(stalled[0])
    worker._slow_noted(stalled[0].started + 1.5)
    worker._admit(large[0])
    worker._admit(photo[0])
    assert list(worker.parked) == [large[0]] and photo[0] in worker.uploads.values()

    worker = _admitting_worker(burst=2_000_000, memory=2_000_000)
    stalled, holding = _arriving(1_500_000), _arriving(400_000)
    large, photo, later = _arriving(600_000), _arriving(450_000), _arriving(450_000)
    worker._admit(stalled[0])
    worker._slow_noted(stalled[0].started + 1.5)
    for upload, _ in (holding, large, photo):
        worker._admit(upload)
    assert list(worker.parked) == [large[0], photo[0]]  # neither fits the memory left
    worker._drop(holding[0])  # served: room for the photo, not for the large one
    assert list(worker.parked) == [large[0]] and photo[0] in worker.uploads.values()
    worker._drop(photo[0])
    large[0].started -= worker.body_timeout  # it has waited long enough: its turn is kept
    worker._admit(later[0])
    assert list(worker.parked) == [large[0], later[0]]
    _closed(stalled, large, photo, holding, later)


def test_an_upload_waiting_longer_than_it_may_take_to_arrive_is_answered_busy() -> None:
    """An upload kept waiting past the time it would have been given to arrive (the memory
    held by others all that while) is answered 503 and its connection closed, so waiting
    connections are not kept for ever."""
    worker = _admitting_worker(burst=100_000, memory=32 * 1024 * 1024)
    holding = _arriving(600_000)
    waiting = _arriving(600_000, started=time.monotonic() - 3600)  # came an hour ago
    worker._admit(holding[0])
    worker._admit(waiting[0])
    assert list(worker.parked) == [waiting[0]]
    worker.nr_conns = 2
    worker.murder_keepalived()
    assert not worker.parked and worker.nr_conns == 1 and worker.uploads == {id(holding[0].conn): holding[0]}
    assert waiting[1].recv(1024).startswith(b"HTTP/1.1 503 ")
    _closed(holding, waiting)


def test_a_request_whose_head_came_in_pieces_waits_only_if_its_body_is_still_to_come() -> None:
    """Its head placed, a request whose body has all come with it is served (its bytes are
    held already), never kept waiting for a read that will not come; one with more to come
    waits behind the uploads holding the burst memory."""
    worker = _admitting_worker(burst=100_000, memory=32 * 1024 * 1024)
    holding = _arriving(600_000)
    worker._admit(holding[0])
    body = b"x" * 70_000
    head = _head("POST /report/ HTTP/1.1", "Host: x", f"content-length: {len(body)}")
    whole, part = _arriving(-1), _arriving(-1)
    for arrival, received in ((whole, head + body), (part, head + body[:1000])):
        worker._admit(arrival[0])  # its head still to come: read on
        arrival[0].pieces.append(received)
        arrival[0].received = len(received)
    assert worker._head_placed(whole[0]) and whole[0].expected == len(head) + len(body)
    assert not worker._head_placed(part[0]) and list(worker.parked) == [part[0]]
    assert part[0].conn.sock not in {key.fileobj for key in worker.poller.get_map().values()}
    for served in (holding[0], whole[0]):  # served: the waiting one is read on, what came of it kept
        worker._drop(served)
    assert part[0] in worker.uploads.values() and part[0].pieces == deque([head + body[:1000]])
    assert worker.poller.get_key(part[0].conn.sock) and part[0].reserved == len(head) + len(body)
    _closed(holding, whole, part)


def test_a_stalled_upload_holds_no_thread_and_times_out(django_db_setup, django_db_blocker) -> None:
    """One upload thread, taken by nobody while a client sits on half a photo: another
    resident's photo post is read, stored and answered, on a connection kept alive for
    the next page; the stalled post is answered 408 once its time is up."""
    with _lane(django_db_blocker, {"WEB_UPLOAD_THREADS": "1", "UPLOAD_BODY_TIMEOUT_S": "3"}) as lane:
        with _stalled_upload(lane.port, lane.host, lane.cookie) as stalled:
            posted = lane.photo_posted()
            assert posted.status == 302, posted.status
            tracking_id = posted.getheader("Location", "").rstrip("/").rsplit("/", 1)[-1]
            connection = lane.browser.sock
            lane.browser.request("GET", "/healthz", headers={"Host": lane.host})
            with lane.browser.getresponse() as health:
                health.read()
            assert health.status == 200 and lane.browser.sock is connection  # the same connection
            # the stalled post, once its 3 s are up and the ~3 s 100 KB may take at
            # UPLOAD_MIN_RATE
            answer = stalled.recv(1024)
        assert answer.startswith(b"HTTP/1.1 408 ")
        from reports.models import Report

        with tenant_context(lane.tenant):
            report = Report.objects.get(tracking_id=tracking_id)
        assert report.photo and report.photo_bytes > 0


def test_a_stalled_upload_holding_the_burst_memory_keeps_no_photo_waiting_for_its_timeout(
    django_db_setup, django_db_blocker
) -> None:
    """The stalled post is read first, and takes all of UPLOAD_BURST_BYTES; a resident's
    photo arriving after it waits only until the stalled one counts as slow (a second),
    not until it times out."""
    with _lane(django_db_blocker, {"UPLOAD_BURST_BYTES": "50000", "UPLOAD_BODY_TIMEOUT_S": "30"}) as lane:
        with _stalled_upload(lane.port, lane.host, lane.cookie) as stalled:
            time.sleep(0.3)  # its head placed first
            posted = lane.photo_posted()
            stalled.setblocking(False)
            with pytest.raises(BlockingIOError):
                stalled.recv(1024)  # not answered yet: the photo did not wait for its 408
    assert posted.status == 302, posted.status


def test_a_long_head_sent_slowly_holds_no_upload_thread_and_a_longer_one_is_refused(
    django_db_setup, django_db_blocker
) -> None:
    """A head longer than is peeked (8 KB) is read by the event loop too, so a client that
    sends most of one and stops holds no thread (the upload lane's one thread serves the
    photo post meanwhile); a head not ended within 32 KB is answered 431."""
    with _lane(django_db_blocker, {"WEB_UPLOAD_THREADS": "1", "UPLOAD_BODY_TIMEOUT_S": "40"}) as lane:
        start = f"POST /report/ HTTP/1.1\r\nHost: {lane.host}\r\nX-Pad: ".encode()
        with (
            socket.create_connection(("127.0.0.1", lane.port), timeout=30) as stalled,
            socket.create_connection(("127.0.0.1", lane.port), timeout=30) as longer,
        ):
            stalled.sendall(start + b"a" * 9000)  # past what is peeked, unended, then nothing
            time.sleep(0.3)
            posted = lane.photo_posted()  # within 20 s, not 40
            longer.sendall(start + b"a" * 40_000)
            answer = longer.recv(1024)
    assert posted.status == 302, posted.status
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_body_still_on_its_way_after_its_answer_closes_the_connection(
    django_db_setup, django_db_blocker
) -> None:
    """A request answered before its body was sent (413, the body over any limit): the
    connection is closed once answered, so no thread waits for that body and nothing sent
    after it is ever read as a request."""
    body_size = 11 * 1024 * 1024  # over BUFFERED_BODY_MAX_BYTES: answered unread
    with django_db_blocker.unblock(), committed_tenant(SLUG, "Upload Lane City", "city"):
        with web_server({"WEB_UPLOAD_THREADS": "1"}) as port:
            host = f"{SLUG}.localhost:{port}"
            with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
                client.sendall(
                    _head(
                        "POST /report/ HTTP/1.1",
                        f"Host: {host}",
                        "Content-Type: multipart/form-data; boundary=x",
                        f"Content-Length: {body_size}",
                    )
                )
                refused = http.client.HTTPResponse(client)
                refused.begin()
                refused.read()
                assert refused.status == 413
                try:
                    client.sendall(_head("GET /healthz HTTP/1.1", f"Host: {host}"))
                    after = client.recv(1024)
                except ConnectionResetError:
                    after = b""
                assert after == b""  # closed: the GET inside the body was never served
            # and the upload lane's one thread is free for the next upload
            assert _page_answered(port, host, within_s=10)


def test_an_upload_trickling_after_100_continue_frees_the_upload_lane(
    django_db_setup, django_db_blocker
) -> None:
    """A client that asks for "100 Continue" is served in the upload lane unread (its body
    comes only once asked for); sending a byte a second, it keeps the lane's one thread
    only for the time its size allows (UPLOAD_BODY_TIMEOUT_S and a second for every 32
    KB), and the photo post waiting behind it is served."""
    with _lane(django_db_blocker, {"WEB_UPLOAD_THREADS": "1", "UPLOAD_BODY_TIMEOUT_S": "2"}) as lane:
        with socket.create_connection(("127.0.0.1", lane.port), timeout=30) as stalled:
            stalled.sendall(lane.continue_head())
            assert stalled.recv(1024).startswith(b"HTTP/1.1 100 Continue")
            stalled.sendall(b"--x\r\n" + b"\xff" * 1000)
            trickling = threading.Event()
            trickling.set()

            def trickle() -> None:  # a byte a second, never idle long enough to time out
                while trickling.is_set():
                    try:
                        stalled.send(b"\xff")
                    except OSError:
                        return
                    time.sleep(1)

            threading.Thread(target=trickle, daemon=True).start()
            posted = lane.photo_posted()
            trickling.clear()
            assert posted.status == 302, posted.status
            # The trickling post was ended, answered and its connection closed: what it
            # sends next is never read as a request.
            stalled.settimeout(10)
            answer = b""
            try:
                while chunk := stalled.recv(65536):
                    answer += chunk
            except ConnectionResetError:  # a trickled byte was still unread when it closed
                pass
            assert answer.startswith(b"HTTP/1.1 403 ") and b"Connection: close" in answer


def test_requests_queued_in_the_upload_lane_on_purpose_hold_it_no_longer_than_one_may(
    django_db_setup, django_db_blocker
) -> None:
    """Clients that ask for "100 Continue" and then send nothing are served in the upload
    lane unread, one after another; each one's time counts from when it was queued, so
    four of them keep the photo post behind them waiting for about one's time (4 s and
    3 s for its 100 KB), not four times that (past the photo client's 15 s)."""
    with _lane(
        django_db_blocker, {"WEB_UPLOAD_THREADS": "1", "UPLOAD_BODY_TIMEOUT_S": "4"}, timeout=15
    ) as lane:
        with ExitStack() as stack:
            for _ in range(4):
                silent = stack.enter_context(socket.create_connection(("127.0.0.1", lane.port), timeout=30))
                silent.sendall(lane.continue_head())
            time.sleep(0.3)
            posted = lane.photo_posted()
    assert posted.status == 302, posted.status


def test_a_head_sent_in_many_small_pieces_is_refused_before_it_costs_the_event_loop() -> None:
    """Each read looks for the head's end in all that came: a head a byte at a time would
    cost time growing with the square of its length, so past 64 reads it is answered 431."""
    worker = _admitting_worker(burst=100_000, memory=1_000_000)
    trickled = _arriving(-1)
    worker._admit(trickled[0])
    for byte in b"POST /report/ HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 40:
        if trickled[0].conn.sock.fileno() < 0:
            break  # closed: refused
        trickled[0].pieces.append(bytes([byte]))
        trickled[0].received += 1
        worker._head_placed(trickled[0])
    assert len(trickled[0].pieces) == 65 and trickled[1].recv(1024).startswith(b"HTTP/1.1 431 ")
    _closed(trickled)


def test_a_request_queued_for_the_upload_lane_past_its_time_is_answered_busy() -> None:
    """Its time counted from when it was queued ran out before a thread took it: the
    client is told 503 rather than seeing its connection closed unanswered."""
    from types import SimpleNamespace

    client, server = socket.socketpair()
    unreader = BufferedUnreader(server, deque())
    unreader.deadline = time.monotonic() - 1  # as _serve_unread set it, a while ago
    conn = SimpleNamespace(sock=server, parser=SimpleNamespace(unreader=unreader))
    worker = _admitting_worker(burst=100_000, memory=1_000_000)
    assert worker.handle(conn) == (False, conn)  # type: ignore[arg-type]
    assert client.recv(1024).startswith(b"HTTP/1.1 503 ")
    client.close()
    server.close()


def test_requests_whose_small_body_never_comes_hold_no_page_thread(
    django_db_setup, django_db_blocker
) -> None:
    """More clients than the process has threads each announce a small body and send
    none: each is read by the event loop, so a page is still answered at once, and each
    is answered 408 once its time is up."""
    with django_db_blocker.unblock(), committed_tenant(SLUG, "Upload Lane City", "city"):
        with web_server({"UPLOAD_BODY_TIMEOUT_S": "2"}) as port:  # 1 process, 4 threads
            host = f"{SLUG}.localhost:{port}"
            browser = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            cookie, _ = _csrf(browser, host)
            browser.close()
            stalled = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(6)]
            try:
                for client in stalled:
                    client.sendall(
                        _head(
                            "POST /report/ HTTP/1.1",
                            f"Host: {host}",
                            "Content-Type: application/x-www-form-urlencoded",
                            "Content-Length: 300",
                            # the cookie makes the view wait for the form's token in the body
                            f"Cookie: csrftoken={cookie}",
                        )
                    )
                assert _page_answered(port, host, within_s=1.5)
                answers = [client.recv(1024) for client in stalled]
            finally:
                for client in stalled:
                    client.close()
        assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers), answers


def test_a_pipelined_request_whose_body_never_comes_holds_no_page_thread(
    django_db_setup, django_db_blocker
) -> None:
    """A request sent right behind another in one write (its head read with the first
    one's) whose small body never comes is read by the event loop too."""
    with django_db_blocker.unblock(), committed_tenant(SLUG, "Upload Lane City", "city"):
        with web_server({"UPLOAD_BODY_TIMEOUT_S": "3"}) as port:  # 1 process, 4 threads
            host = f"{SLUG}.localhost:{port}"
            browser = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            cookie, _ = _csrf(browser, host)
            browser.close()
            pipelined = _head("GET /healthz HTTP/1.1", f"Host: {host}") + _head(
                "POST /report/ HTTP/1.1",
                f"Host: {host}",
                "Content-Type: application/x-www-form-urlencoded",
                "Content-Length: 300",
                f"Cookie: csrftoken={cookie}",
            )
            stalled = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(6)]
            try:
                for client in stalled:
                    client.sendall(pipelined)
                time.sleep(0.5)  # the first requests answered; their posts wait in the buffer
                for client in stalled:
                    client.sendall(b"x")  # a byte of each body, and no more
                time.sleep(0.5)
                assert _page_answered(port, host, within_s=2)
            finally:
                for client in stalled:
                    client.close()
