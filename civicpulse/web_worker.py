"""The gunicorn worker `make run` and the container use: gunicorn's threaded worker, with
uploads kept apart from everything else.

A thread that serves a photo post waits while the client sends the body, then holds the
GIL while the body is parsed. In a flood of such posts every thread of a process was
theirs: another tenant's page queued behind them, then shared the GIL with all of them
(bench/photo_flood.py: its slowest page took 300-777 ms against 24-36 ms quiet), and a
few clients sending slowly could hold every thread of the process for as long as they
liked. Here:

- a request's body, of any size, is read by the worker's event loop, without a
  thread, until it is all in (within UPLOAD_BODY_TIMEOUT_S and a second for every
  32 KB, in at most UPLOAD_BUFFER_BYTES of memory per process at once: past that,
  uploads are handed on unread, as gunicorn would), so a client that never sends the
  body it announced holds no page thread;
- an upload (a request of more than 64 KB) is then served by a pool of its own,
  WEB_UPLOAD_THREADS threads (1 by default: uploads are served one after another per
  process, as a buffering proxy in front of it would have them), which run, like the
  photo decoding processes, on every CPU but the first (civicpulse.core.cpus);
- pages and API calls keep the `threads` of gunicorn's own pool, whatever uploads do;
- no thread reads a request's socket past the time the request may take.

A request is placed by peeking at its socket (after what was read with the request
before, if anything); the bytes read ahead are handed to gunicorn's parser as if just
read from the socket, so the request it sees is the same."""

import errno
import os
import re
import selectors
import socket
import ssl
import time
from collections import deque
from concurrent import futures
from functools import partial

from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import Request
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from civicpulse.core.cpus import keep_to_upload_lane

# A body larger than this carries a file (the resident form's text comes to a few
# kilobytes; reports.views.FORM_TEXT_MAX_BYTES is the same bound).
UPLOAD_MIN_BYTES = 64 * 1024
# What is peeked of a request to place it: a request head is well under this.
HEAD_PEEK_BYTES = 8 * 1024
# What is read off a socket at a time while a body arrives: the size Django reads a body
# in (bench/photo_flood.py: 256 KB made no difference once bodies were read whole, a
# fifth more CPU before, when gunicorn's reader took a kilobyte of a piece at a time).
READ_BYTES = 64 * 1024
# The largest body read ahead: the resident form's limit (FORM_MAX_BODY_BYTES, a photo
# of 8 MB and its form). Larger ones are refused by the application (413), unread, and
# their connection closed once answered.
BUFFERED_BODY_MAX_BYTES = 10 * 1024 * 1024
TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*\r", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r]*chunked", re.IGNORECASE)
# A client asking whether to send its body waits for gunicorn's "100 Continue".
_EXPECT = re.compile(rb"\r\nexpect:[ \t]*100-continue", re.IGNORECASE)
# The slowest an upload may arrive, beside UPLOAD_BODY_TIMEOUT_S, before it is answered
# 408 (bytes a second: about a quarter of a megabit).
UPLOAD_MIN_RATE = 32 * 1024


def request_size(head: bytes) -> int | None:
    """The size in bytes (head and body) of the request a connection's first bytes begin:
    None for a request without a body, -1 for one whose body is not to be read ahead
    (chunked, or waiting for "100 Continue") or whose head has not all arrived."""
    end = head.find(_HEAD_END)
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
    return end + len(_HEAD_END) + int(length.group(1))


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


class Upload:
    """An upload whose bytes the event loop is reading."""

    def __init__(self, conn: TConn, started: float) -> None:
        self.conn, self.started, self.deadline = conn, started, started
        self.pieces: deque[bytes] = deque()
        self.received = 0
        self.expected = -1  # unknown until its head is in
        self.reserved = 0  # of the process's UPLOAD_BUFFER_BYTES


def _body_unread(request: Request | None) -> int:
    """Bytes of a request's body its application left unread: -1 when unknown (a chunked
    body not read to its end, or one whose reading failed)."""
    reader = getattr(getattr(request, "body", None), "reader", None)
    if isinstance(reader, ChunkedReader):
        return 0 if reader.parser is None else -1
    return reader.length if isinstance(reader, LengthReader) else 0


def _body_on_socket(request: Request, unreader: BufferedUnreader) -> int:
    """Of those, the bytes not read off the connection yet (-1: unknown)."""
    left = _body_unread(request)
    if left > 0:
        left = max(left - unreader.buf.getbuffer().nbytes - sum(len(piece) for piece in unreader.pieces), 0)
    return left


class UploadLaneWorker(ThreadWorker):
    def init_process(self) -> None:
        self.upload_pool = futures.ThreadPoolExecutor(
            max_workers=max(1, int(os.environ.get("WEB_UPLOAD_THREADS", "1"))),
            thread_name_prefix="upload",
            initializer=keep_to_upload_lane,  # off the CPU left to pages
        )
        self.buffer_budget = int(os.environ.get("UPLOAD_BUFFER_BYTES", str(32 * 1024 * 1024)))
        self.body_timeout = float(os.environ.get("UPLOAD_BODY_TIMEOUT_S", "60"))
        self.buffered = 0
        self.read_buffer = memoryview(bytearray(READ_BYTES))
        self.uploads: dict[int, Upload] = {}
        super().init_process()

    def enqueue_req(self, conn: TConn) -> None:
        """Place a request whose first bytes have arrived (called by the event loop)."""
        conn.init()
        if conn.parser.mesg is None and type(conn.parser.unreader) is SocketUnreader:
            # A new connection: its reader, for as long as it lives, serves what is read
            # ahead before the socket, in the order it came (a body the application left
            # unread is dropped through it before the next request is parsed).
            conn.parser.unreader = BufferedUnreader(conn.sock, deque())
        unreader = conn.parser.unreader
        unreader.request = None
        head, already = self._peek(conn)
        size = request_size(head) if head else None
        if size is None or 0 < size <= len(head):
            # No body, or all of it in already: a page or an API call. (Unknown for TLS:
            # gunicorn reads it, in its time.)
            unreader.allowed = self.body_timeout
            self._wrap_future(self.tpool.submit(self.handle, conn), conn)
        elif (
            (size < 0 and (_HEAD_END in head or already))
            or size > BUFFERED_BODY_MAX_BYTES
            or self._over_budget(size)
        ):
            # Not to be read ahead (chunked, 100 Continue, or a head still arriving behind
            # a request read with the one before: rare), too large for the application, or
            # no memory left to read it ahead: served in the upload lane as gunicorn would,
            # its thread reading the rest, until the time such a request may take.
            self._serve_unread(conn, size)
        else:
            # A body on its way (every page's and API call's too: a client that never
            # sends it holds no thread), or a head still arriving. Bytes already read off
            # the socket stay where they are, ahead of those read from here on.
            upload = Upload(conn, time.monotonic())
            upload.received = already
            self._reserve(upload, size)
            conn.sock.setblocking(False)
            with self._lock:
                self.uploads[id(conn)] = upload
                self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._upload_readable, upload))

    def handle(self, conn: TConn) -> tuple[bool, TConn]:
        """Serve the connection's next request on this thread: its time starts now, not
        while it waited for a thread behind others."""
        unreader = conn.parser.unreader
        if unreader.allowed is not None:
            unreader.deadline = time.monotonic() + unreader.allowed
        return super().handle(conn)

    def handle_request(self, req: Request, conn: TConn) -> bool:
        req.body = WholeReadBody(req.body.reader)  # nothing of it has been read yet
        conn.parser.unreader.request = req
        keepalive = super().handle_request(req, conn)
        # A body the application left unread and still on its way (a 413 answered before
        # it, a chunked body, which Django never reads, a post refused unread): the
        # connection is closed once answered rather than read on, so no thread waits for
        # that body and none of it is ever taken for a request.
        return keepalive and _body_on_socket(req, conn.parser.unreader) == 0

    def _peek(self, conn: TConn) -> tuple[bytes, int]:
        """The first bytes of the connection's next request, and how many of them were read
        off the socket already (with the request before: pipelined), or (b"", 0) where they
        cannot be told: TLS."""
        unreader = conn.parser.unreader
        if isinstance(conn.sock, ssl.SSLSocket):
            return b"", 0
        # In the order gunicorn's reader serves them: its buffer, then the pieces; past what
        # is left of the body of the request before (dropped before this one is read).
        read = (unreader.buf.getvalue() + b"".join(unreader.pieces))[max(_body_unread(conn.parser.mesg), 0) :]
        try:
            waiting = conn.sock.recv(HEAD_PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except OSError:  # nothing there after all, or gone: gunicorn's own read will say
            waiting = b""
        return read + waiting, len(read)

    def _serve_unread(self, conn: TConn, size: int) -> None:
        """Serve a request in the upload lane, its thread reading the body, until the time a
        request of `size` bytes (-1: unknown) may take."""
        conn.parser.unreader.allowed = self._allowed(size)
        self._wrap_future(self.upload_pool.submit(self.handle, conn), conn)

    def _allowed(self, size: int) -> float:
        """Seconds a request of `size` bytes (-1: unknown) may take to arrive: no more than
        the largest body read ahead may (what is larger is refused unread)."""
        return self.body_timeout + min(max(size, 0), BUFFERED_BODY_MAX_BYTES) / UPLOAD_MIN_RATE

    def _reserve(self, upload: Upload, expected: int) -> None:
        """Count the upload's size against the budget, and give it the time it may take."""
        upload.expected = expected
        wanted = max(expected, upload.received)
        with self._lock:  # released by the thread that served it (_hand_over)
            self.buffered += wanted - upload.reserved
        upload.reserved = wanted
        upload.deadline = upload.started + self._allowed(expected)

    def _upload_readable(self, upload: Upload, sock: socket.socket) -> None:
        try:
            # Into the process's one read buffer, then copied at the size read (recv
            # would allocate READ_BYTES each time, then shrink it).
            size = sock.recv_into(self.read_buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            size = 0
        data = self.read_buffer[:size].tobytes()
        if not data:  # the client went away before its body was all in
            self._drop(upload)
            return
        upload.pieces.append(data)
        upload.received += len(data)
        if upload.expected < 0 and not self._head_placed(upload):
            return
        if 0 <= upload.expected <= upload.received:
            # requests of more than UPLOAD_MIN_BYTES are served in the upload lane
            self._hand_over(upload, self.upload_pool if upload.expected > UPLOAD_MIN_BYTES else self.tpool)

    def _head_placed(self, upload: Upload) -> bool:
        """Once a slow request's head is in: whether its body is to be read ahead here
        (its size reserved), else it is handed on as it is."""
        head = b"".join(upload.pieces)[:HEAD_PEEK_BYTES]
        if _HEAD_END not in head:
            if upload.received >= HEAD_PEEK_BYTES:  # a head that long (cookies): read as it comes
                self._hand_over(upload, self.upload_pool)
            return False
        size = request_size(head)
        if size is None:  # a page or API call without a body, sent slowly
            self._hand_over(upload, self.tpool)
            return False
        if size < 0 or size > BUFFERED_BODY_MAX_BYTES or self._over_budget(size - upload.reserved):
            # chunked, too large for the application, or no memory left to read it ahead
            self._hand_over(upload, self.upload_pool, size)
            return False
        self._reserve(upload, size)
        return True

    def _over_budget(self, more: int) -> bool:
        return self.buffered + max(more, 0) > self.buffer_budget

    def _forget(self, upload: Upload) -> None:
        with self._lock:
            self.uploads.pop(id(upload.conn), None)
            try:
                self.poller.unregister(upload.conn.sock)
            except (KeyError, ValueError, OSError):
                pass

    def _release(self, size: int, _: object = None) -> None:
        with self._lock:
            self.buffered -= size

    def _hand_over(self, upload: Upload, pool: futures.ThreadPoolExecutor, size: int = -1) -> None:
        """Serve the request from what was read of it, its thread reading the rest (if any)
        until the time a request of `size` bytes may take; its bytes stay counted against
        the budget until it has been served."""
        self._forget(upload)
        conn = upload.conn
        conn.sock.setblocking(True)
        unreader = conn.parser.unreader
        unreader.pieces.extend(upload.pieces)
        # All of it read ahead, or the rest to be read by the thread (chunked, too large)
        unreader.allowed = self.body_timeout if upload.expected >= 0 else self._allowed(size)
        served = pool.submit(self.handle, conn)
        self._wrap_future(served, conn)
        served.add_done_callback(partial(self._release, upload.reserved))

    def _drop(self, upload: Upload, answer: bytes = b"") -> None:
        self._forget(upload)
        self._release(upload.reserved)
        if answer:
            try:
                upload.conn.sock.send(answer)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EPIPE, errno.ECONNRESET):
                    self.log.debug("Could not answer a slow upload: %s", exc)
        self.nr_conns -= 1
        upload.conn.close()

    def murder_keepalived(self) -> None:
        """gunicorn's sweep of idle keep-alive connections, run once a loop: here also
        the uploads whose body did not arrive in time (answered 408)."""
        super().murder_keepalived()
        now = time.monotonic()
        for upload in [u for u in self.uploads.values() if u.deadline < now]:
            self._drop(upload, TIMEOUT_ANSWER)

    def handle_quit(self, sig: int, frame: object) -> None:
        self.upload_pool.shutdown(wait=False)
        super().handle_quit(sig, frame)

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.upload_pool.shutdown(wait=False)
