"""Reading a request off its connection for the web worker (civicpulse/web_worker.py):
where a request ends, judged from its head alone, and gunicorn's socket reader and body
made to serve what the worker's event loop read ahead, within the request's deadline; and
the answers the event loop gives without a thread."""

import re
import socket
import ssl
import time
from collections import deque

from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import Request
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn

# What is peeked of a request to place it: a request head is well under this.
HEAD_PEEK_BYTES = 8 * 1024
# The longest head read: what a proxy in front commonly allows (nginx: 4 x 8 KB). A head
# not ended by then is answered 431 by the event loop, so no thread waits for its end.
HEAD_MAX_BYTES = 32 * 1024
# The most reads a head may take (a client's packets; a head comes in one to a few): each
# read looks for the head's end in all that came, so a head sent a byte at a time would
# otherwise cost the event loop time growing with the square of its length.
HEAD_MAX_PIECES = 64
HEAD_TOO_LARGE_ANSWER = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
)
# For an upload whose body did not arrive in time.
TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
# For an upload that waited, unread, longer than it may take to arrive (the read-ahead
# memory held by others all that while: a flood, or clients holding it on purpose).
BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n"
)
# Where a request's head ends and its body begins.
HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*\r", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r]*chunked", re.IGNORECASE)
# A client asking whether to send its body waits for gunicorn's "100 Continue".
_EXPECT = re.compile(rb"\r\nexpect:[ \t]*100-continue", re.IGNORECASE)


def request_size(head: bytes) -> int | None:
    """The size in bytes (head and body) of the request a connection's first bytes begin:
    None for a request without a body, -1 for one whose body is not to be read ahead
    (chunked, or waiting for "100 Continue") or whose head has not all arrived."""
    end = head.find(HEAD_END)
    if end < 0:
        return -1
    head = head[: end + 2]
    if _CHUNKED.search(head) or _EXPECT.search(head):
        return -1
    length = _CONTENT_LENGTH.search(head)
    if length is None:
        return None
    if len(length.group(1)) > 18:  # no body is that large (and int() refuses 4,300 digits)
        return -1
    if int(length.group(1)) == 0:
        return None
    return end + len(HEAD_END) + int(length.group(1))


class BufferedUnreader(SocketUnreader):
    """gunicorn's socket reader, serving first what the event loop read ahead, and reading
    the socket only until the request's deadline. Past it the request ends with an error
    (NoMoreData: Django sees an unreadable body) and its connection is closed once it is
    answered, never read again: a byte still on its way is never taken for the start of
    another request."""

    def __init__(self, sock: socket.socket, pieces: deque[bytes]) -> None:
        super().__init__(sock)
        self.pieces = pieces
        # Seconds the request being placed may take once a thread reads it (set as each
        # request is placed), and when that thread must stop: time.monotonic().
        self.allowed: float | None = None
        self.deadline: float | None = None
        self.request: Request | None = None  # the one being served, to close its connection

    def chunk(self) -> bytes:
        if self.pieces:
            return self.pieces.popleft()
        if self.deadline is None:
            return super().chunk()
        left = self.deadline - time.monotonic()
        if left > 0:
            self.sock.settimeout(left)
            try:
                return super().chunk()
            except TimeoutError:
                pass
            finally:
                self.sock.settimeout(None)  # the answer is written without a deadline
        if self.request is not None:
            self.request.force_close()
        raise NoMoreData(b"")


class WholeReadBody(Body):
    """gunicorn's request body (`wsgi.input`), asking its reader for all that a read wants
    at once. gunicorn's asks 1 KB at a time, and its length reader copies what is left of
    the piece it holds at every ask: Django reading a 600 KB photo post took 2 ms of CPU
    with the GIL held, 0.05 ms this way, time another tenant's page was waiting for."""

    def read(self, size: int | None = None) -> bytes:
        wanted = self.getsize(size) - self.buf.tell()
        if wanted > 0:
            # The reader returns all of it, or what is left of the body.
            self.buf.write(self.reader.read(wanted))
        return super().read(size)


def body_unread(request: Request | None) -> int:
    """Bytes of a request's body its application left unread: -1 when unknown (a chunked
    body not read to its end, or one whose reading failed)."""
    reader = getattr(getattr(request, "body", None), "reader", None)
    if isinstance(reader, ChunkedReader):
        return 0 if reader.parser is None else -1
    return reader.length if isinstance(reader, LengthReader) else 0


def body_on_socket(request: Request, unreader: BufferedUnreader) -> int:
    """Of those, the bytes not read off the connection yet (-1: unknown)."""
    left = body_unread(request)
    if left > 0:
        left = max(left - unreader.buf.getbuffer().nbytes - sum(len(piece) for piece in unreader.pieces), 0)
    return left


def peek_head(conn: TConn) -> tuple[bytes, int]:
    """The first bytes of the connection's next request, and how many of them were read
    off the socket already (with the request before: pipelined), or (b"", 0) where they
    cannot be told: TLS."""
    unreader = conn.parser.unreader
    if isinstance(conn.sock, ssl.SSLSocket):
        return b"", 0
    # In the order gunicorn's reader serves them: its buffer, then the pieces; past what
    # is left of the body of the request before (dropped before this one is read).
    read = (unreader.buf.getvalue() + b"".join(unreader.pieces))[max(body_unread(conn.parser.mesg), 0) :]
    try:
        waiting = conn.sock.recv(HEAD_PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:  # nothing there after all, or gone: gunicorn's own read will say
        waiting = b""
    return read + waiting, len(read)
