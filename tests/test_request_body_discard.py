"""A body refused unread is discarded in large reads from gunicorn's own reader, and the
connection's next request, even one already pipelined behind it, arrives intact."""

import http.client
import io
import socket
import struct
import threading
from collections.abc import Iterator

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.unreader import SocketUnreader

from civicpulse.core.bodies import DISCARD_CHUNK_BYTES, request_body_discard
from tests.support.services import committed_tenant, web_server

NEXT = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
BODY = bytes(range(256)) * 4000  # about a megabyte: several discard chunks


def _request_on(stream: object) -> HttpRequest:
    """The request a view sees, its body on `stream` as a server hands it over."""
    request = RequestFactory().post("/report/")
    request.META["wsgi.input"] = stream
    return request


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    for end in (client, server):
        end.settimeout(10)  # a discard reading past the body fails here instead of hanging
    yield client, server
    client.close()
    server.close()


def _send(client: socket.socket, data: bytes) -> threading.Thread:
    sender = threading.Thread(target=client.sendall, args=(data,))
    sender.start()
    return sender


def test_a_sized_body_is_discarded_and_the_pipelined_request_kept(sockets) -> None:
    client, server = sockets
    unreader = SocketUnreader(server)
    unreader.unread(BODY[:5000])  # what the server read along with the headers
    stream = Body(LengthReader(unreader, len(BODY)))
    assert stream.read(100) == BODY[:100]  # a view may have read a little
    sender = _send(client, BODY[5000:] + NEXT)
    request_body_discard(_request_on(stream))
    sender.join()
    assert stream.reader.length == 0
    assert unreader.read(len(NEXT)) == NEXT


def test_a_chunked_body_is_discarded_up_to_its_last_chunk(sockets) -> None:
    client, server = sockets
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(part), part)
        for part in (
            BODY[i : i + DISCARD_CHUNK_BYTES // 3] for i in range(0, len(BODY), DISCARD_CHUNK_BYTES // 3)
        )
    )
    sender = _send(client, chunks + b"0\r\n\r\n" + NEXT)
    unreader = SocketUnreader(server)
    headers = [("TRANSFER-ENCODING", "chunked")]
    stream = Body(ChunkedReader(type("Message", (), {"headers": headers})(), unreader))
    request_body_discard(_request_on(stream))
    sender.join()
    assert stream.read(10) == b""
    assert unreader.read(len(NEXT)) == NEXT


def test_an_aborted_upload_is_answered_all_the_same() -> None:
    """The connection reset halfway through the body (the resident's phone lost its
    signal): the discard ends quietly and the refusal still goes out."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    with client, server:
        server.settimeout(10)
        stream = Body(LengthReader(SocketUnreader(server), len(BODY)))
        client.sendall(BODY[:1000])
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # with SO_LINGER 0: a reset, not an end of stream
        request_body_discard(_request_on(stream))


def test_a_photo_post_turned_away_has_its_body_dropped(tenant_a, sockets) -> None:
    """The resident form's refusal, on gunicorn's own body stream: its body is read off
    before the answer, up to the next request."""
    from reports.photos import photo_slot
    from reports.views import report_new

    client, server = sockets
    unreader = SocketUnreader(server)
    stream = Body(LengthReader(unreader, len(BODY)))
    request = RequestFactory().post("/report/", b"", content_type="multipart/form-data; boundary=x")
    request.META.update(
        {"CONTENT_LENGTH": str(len(BODY)), "wsgi.input": stream, "REMOTE_ADDR": "203.0.113.40"}
    )
    sender = _send(client, BODY + NEXT)
    with photo_slot():  # this process's decoding slot is taken
        response = report_new(request)
    sender.join()
    assert response.status_code == 503 and stream.reader.length == 0
    assert unreader.read(len(NEXT)) == NEXT


def test_another_servers_stream_is_left_to_the_server() -> None:
    stream = io.BytesIO(b"description=Pothole")
    request_body_discard(_request_on(stream))
    assert stream.read() == b"description=Pothole"


def _photo_form(size: int) -> tuple[bytes, dict[str, str]]:
    boundary = "civicpulse-discard"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\nPothole\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + b"\xff" * size
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_through_gunicorn_refusals_unread_leave_the_connection_in_step(
    django_db_setup, django_db_blocker
) -> None:
    """Over one keep-alive connection to a real gunicorn, as a browser uses it (the next
    request sent once the answer is in): the form's per-address allowance of photo posts
    used up (each refused for want of a CSRF token), then one turned away unread (429)
    and an API body over its limit (413, left for gunicorn to drain); the request after
    each is read from where its body ended, on the same connection."""
    from reports.limits import FORM_RATE

    with django_db_blocker.unblock(), committed_tenant("discard-city", "Discard City", "city"):
        with web_server() as port:
            browser = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            host = {"Host": f"discard-city.localhost:{port}"}

            def answer_to(
                method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
            ) -> int:
                browser.request(method, path, body or None, {**host, **(headers or {})})
                with browser.getresponse() as response:
                    response.read()
                    return response.status

            def photo_post(size: int) -> int:
                body, headers = _photo_form(size)
                return answer_to("POST", "/report/", body, headers)

            assert [photo_post(200_000) for _ in range(FORM_RATE[0])] == [403] * FORM_RATE[0]
            connection = browser.sock
            assert photo_post(700_000) == 429
            assert answer_to("GET", "/healthz") == 200
            api = b'{"description": "' + b"x" * 200_000 + b'"}'
            assert answer_to("POST", "/api/v1/reports/", api, {"Content-Type": "application/json"}) == 413
            assert answer_to("GET", "/healthz") == 200
            assert browser.sock is connection  # never reconnected: each answer left it usable
            browser.close()
