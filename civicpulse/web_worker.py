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
  32 KB), so a client that never sends the body it announced holds no page thread.
  Uploads are read in at most UPLOAD_BUFFER_BYTES of memory per process at once (each
  body counted at its size; a page's or an API call's, 64 KB at most, never waits), of
  which uploads being read for less than a second (UPLOAD_FAST_S), or read and waiting
  for the upload lane, hold at most UPLOAD_BURST_BYTES (one upload whatever its size
  when no other holds any): the others wait in the order they came, unread and holding
  no thread, their bytes in the kernel's socket buffers, until there is room (one
  waiting only for memory may be passed by those that fit, for half of
  UPLOAD_BODY_TIMEOUT_S), and are answered 503 past the time they would have had to arrive;
- an upload (a request of more than 64 KB) is then served by a pool of its own,
  WEB_UPLOAD_THREADS threads (1 by default: uploads are served one after another per
  process, as a buffering proxy in front of it would have them), which run, like the
  photo decoding processes, on every CPU but the first (civicpulse.core.cpus);
- pages and API calls keep the `threads` of gunicorn's own pool, whatever uploads do;
- no thread reads a request's socket past the time the request may take.

A request is placed by peeking at its socket (after what was read with the request
before, if anything); the bytes read ahead are handed to gunicorn's parser as if just
read from the socket, so the request it sees is the same."""

import contextlib
import errno
import os
import selectors
import socket
import time
from collections import deque
from concurrent import futures
from functools import partial

from gunicorn.http.message import Request
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from civicpulse.core.cpus import keep_to_upload_lane
from civicpulse.web_requests import (
    BUSY_ANSWER,
    HEAD_END,
    HEAD_MAX_BYTES,
    HEAD_MAX_PIECES,
    HEAD_TOO_LARGE_ANSWER,
    TIMEOUT_ANSWER,
    BufferedUnreader,
    WholeReadBody,
    body_on_socket,
    peek_head,
    request_size,
)

# A body larger than this carries a file (the resident form's text comes to a few
# kilobytes; reports.views.FORM_TEXT_MAX_BYTES is the same bound).
UPLOAD_MIN_BYTES = 64 * 1024
# What is read off a socket at a time while a body arrives: the size Django reads a body
# in (bench/photo_flood.py: 256 KB made no difference once bodies were read whole, a
# fifth more CPU before, when gunicorn's reader took a kilobyte of a piece at a time).
READ_BYTES = 64 * 1024
# The largest body read ahead: the resident form's limit (FORM_MAX_BODY_BYTES, a photo
# of 8 MB and its form). Larger ones are refused by the application (413), unread, and
# their connection closed once answered.
BUFFERED_BODY_MAX_BYTES = 10 * 1024 * 1024

# The slowest an upload may arrive, beside UPLOAD_BODY_TIMEOUT_S, before it is answered
# 408 (bytes a second: about a quarter of a megabit).
UPLOAD_MIN_RATE = 32 * 1024
# Seconds after which an upload still arriving gives back its burst memory (Upload.slow).
UPLOAD_FAST_S = 1.0


class Upload:
    """An upload whose bytes the event loop is reading."""

    def __init__(self, conn: TConn, started: float) -> None:
        self.conn, self.started, self.deadline = conn, started, started
        self.pieces: deque[bytes] = deque()
        self.received = 0
        self.expected = -1  # unknown until its head is in
        self.reserved = 0  # of the process's UPLOAD_BUFFER_BYTES: its size
        self.burst = 0  # of UPLOAD_BURST_BYTES: its size too, while not slow
        # Still arriving UPLOAD_FAST_S after it started: from then on it holds none of the
        # burst memory, so a phone on a slow link keeps no other upload waiting for long.
        self.slow = False


class UploadLaneWorker(ThreadWorker):
    def init_process(self) -> None:
        self.upload_pool = futures.ThreadPoolExecutor(
            max_workers=max(1, int(os.environ.get("WEB_UPLOAD_THREADS", "1"))),
            thread_name_prefix="upload",
            initializer=keep_to_upload_lane,  # off the CPU left to pages
        )
        self.buffer_budget = int(os.environ.get("UPLOAD_BUFFER_BYTES", str(32 * 1024 * 1024)))
        self.body_timeout = float(os.environ.get("UPLOAD_BODY_TIMEOUT_S", "60"))
        # Of the read-ahead memory: all of it (reserved for each body by its size), and the
        # part that uploads being read for less than UPLOAD_FAST_S, or read and waiting
        # for the upload lane, hold.
        self.buffered = self.fast = 0
        self.burst_budget = int(os.environ.get("UPLOAD_BURST_BYTES", str(2 * 1024 * 1024)))
        self.read_buffer = memoryview(bytearray(READ_BYTES))
        self.uploads: dict[int, Upload] = {}
        self.parked: deque[Upload] = deque()  # uploads waiting to be read ahead
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
        head, already = peek_head(conn)
        size = request_size(head) if head else None
        if size is None or 0 < size <= len(head):
            # No body, or all of it in already: a page or an API call. (Unknown for TLS:
            # gunicorn reads it, in its time.)
            unreader.allowed = self.body_timeout
            self._wrap_future(self.tpool.submit(self.handle, conn), conn)
        elif (size < 0 and (HEAD_END in head or already)) or size > BUFFERED_BODY_MAX_BYTES:
            # Not to be read ahead (chunked, 100 Continue, or a head still arriving behind
            # a request read with the one before: rare), or too large for the application.
            self._serve_unread(conn, size)
        else:
            # A body on its way (every page's and API call's too: a client that never
            # sends it holds no thread), or a head still arriving. Bytes already read off
            # the socket stay where they are, ahead of those read from here on. An upload
            # waits, unread, while others fill the read-ahead memory (_park_release).
            upload = Upload(conn, time.monotonic())
            upload.received = already
            upload.expected = size
            self._admit(upload)

    def handle(self, conn: TConn) -> tuple[bool, TConn]:
        """Serve the connection's next request on this thread: its time starts now, not
        while it waited behind others (unless it is read here: _serve_unread)."""
        unreader = conn.parser.unreader
        if unreader.allowed is not None:
            unreader.deadline = time.monotonic() + unreader.allowed
        elif unreader.deadline is not None and unreader.deadline <= time.monotonic():
            # Queued past its time (_serve_unread): answered busy, not closed unanswered.
            with contextlib.suppress(OSError):
                conn.sock.send(BUSY_ANSWER, socket.MSG_DONTWAIT)
            return False, conn
        return super().handle(conn)

    def handle_request(self, req: Request, conn: TConn) -> bool:
        req.body = WholeReadBody(req.body.reader)  # nothing of it has been read yet
        conn.parser.unreader.request = req
        keepalive = super().handle_request(req, conn)
        # A body the application left unread and still on its way (a 413 answered before
        # it, a chunked body, which Django never reads, a post refused unread): the
        # connection is closed once answered rather than read on, so no thread waits for
        # that body and none of it is ever taken for a request.
        return keepalive and body_on_socket(req, conn.parser.unreader) == 0

    def _serve_unread(self, conn: TConn, size: int) -> futures.Future:
        """Serve a request in the upload lane as gunicorn would, its thread reading the body,
        until the time a request of `size` bytes (-1: unknown) may take, counted from now:
        requests queued on purpose (asking for 100 Continue, then silent) hold the lane no
        longer, all together, than one of them may."""
        unreader = conn.parser.unreader
        unreader.allowed, unreader.deadline = None, time.monotonic() + self._allowed(size)
        served = self.upload_pool.submit(self.handle, conn)
        self._wrap_future(served, conn)
        return served

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
            if not upload.slow and expected > UPLOAD_MIN_BYTES:
                self.fast += wanted - upload.burst
                upload.burst = wanted
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
        """Once a head that came in pieces is in: whether the body is read ahead here (its
        size reserved), else the request is handed on as it is."""
        head = b"".join(upload.pieces)[:HEAD_MAX_BYTES]
        if HEAD_END not in head:
            if upload.received >= HEAD_MAX_BYTES or len(upload.pieces) > HEAD_MAX_PIECES:
                self._drop(upload, HEAD_TOO_LARGE_ANSWER)
            return False
        size = request_size(head)
        if size is None:  # a page or API call without a body, sent slowly
            self._hand_over(upload, self.tpool)
            return False
        if size < 0 or size > BUFFERED_BODY_MAX_BYTES:
            # chunked, or too large for the application: its thread reads the rest
            served = self._serve_unread(self._off_the_loop(upload), size)
            served.add_done_callback(partial(self._release, upload))
            return False
        with self._lock:
            if upload.received < size and self._waits(size):
                # The read-ahead memory taken by others: it waits, unread, what came of it
                # kept (_park_release), counted again once it is read on.
                self._forget(upload)
                self._unreserve(upload)
                self._park(upload, size)
                self._park_release()
                return False
            self._reserve(upload, size)  # under the lock that found it room
        return True

    def _admit(self, upload: Upload) -> None:
        """Read the upload ahead now, or once there is room for it (_park_release)."""
        with self._lock:
            if self._waits(upload.expected):
                self._park(upload, upload.expected)
            else:
                self._read_ahead(upload)

    def _waits(self, size: int) -> bool:
        """Whether a body of `size` bytes waits to be read (self._lock held): an upload
        there is no room for, or one behind an upload that keeps its turn. A page's or an
        API call's body never waits."""
        if size <= UPLOAD_MIN_BYTES:
            return False
        return not self._room_for(size) or any(self._keeps_turn(u) for u in self.parked)

    def _keeps_turn(self, upload: Upload) -> bool:
        """Whether a waiting upload keeps those behind it waiting (self._lock held): one
        waiting for the burst memory does (it frees in seconds); one waiting only for
        memory that slow uploads may hold for minutes lets those that fit pass it, for
        half of UPLOAD_BODY_TIMEOUT_S, so that it is read before its 503 all the same."""
        waited = time.monotonic() - upload.started
        return not self._burst_room(upload.expected) or waited > self.body_timeout / 2

    def _park(self, upload: Upload, size: int) -> None:
        """Keep an upload waiting (self._lock held), no longer than it may take to arrive
        from when it came: past that it is answered 503 (murder_keepalived)."""
        upload.expected = size
        upload.deadline = upload.started + self._allowed(size)
        self.parked.append(upload)

    def _slow_noted(self, now: float) -> None:
        """Uploads still arriving UPLOAD_FAST_S after they started give back their part of
        the burst memory (keeping their size of the read-ahead memory, which bounds what
        the process holds); then those that waited are read while there is room."""
        with self._lock:
            for upload in self.uploads.values():
                if not upload.slow and upload.burst and now - upload.started > UPLOAD_FAST_S:
                    self.fast -= upload.burst
                    upload.burst, upload.slow = 0, True
            self._park_release()

    def _room_for(self, size: int) -> bool:
        """Whether an upload of `size` bytes may be read ahead now (self._lock held): within
        UPLOAD_BURST_BYTES and UPLOAD_BUFFER_BYTES, or whatever its size where no other
        upload holds any of the burst memory and no other body any of the rest."""
        return self._burst_room(size) and (self.buffered <= 0 or self.buffered + size <= self.buffer_budget)

    def _burst_room(self, size: int) -> bool:
        return self.fast <= 0 or self.fast + size <= self.burst_budget

    def _unreserve(self, upload: Upload) -> None:
        """Give back what the upload holds of the read-ahead memory (self._lock held)."""
        self.buffered -= upload.reserved
        self.fast -= upload.burst
        upload.reserved = upload.burst = 0

    def _read_ahead(self, upload: Upload) -> None:
        """Start reading an upload's body in the event loop (self._lock held)."""
        upload.started = time.monotonic()  # its time starts now, not while it waited
        self._reserve(upload, upload.expected)
        upload.conn.sock.setblocking(False)
        self.uploads[id(upload.conn)] = upload
        self.poller.register(upload.conn.sock, selectors.EVENT_READ, partial(self._upload_readable, upload))

    def _park_release(self) -> None:
        """Read ahead the uploads that waited, in the order they came, while there is room
        for them or those before them let them pass (self._lock held).

        A flood's uploads arrive together. Read all at once (20 MB a process for the 64
        posts of bench/photo_flood.py), they came in within its first half-second, and
        another tenant's slowest pages were those of that half-second. Their photos are
        served one after another anyway (the upload lane)."""
        for upload in list(self.parked):
            if self._room_for(upload.expected):
                self.parked.remove(upload)
                self._read_ahead(upload)
            elif self._keeps_turn(upload):
                break

    def _forget(self, upload: Upload) -> None:
        with self._lock:
            self.uploads.pop(id(upload.conn), None)
            with contextlib.suppress(KeyError, ValueError, OSError):  # not registered: waiting
                self.poller.unregister(upload.conn.sock)

    def _release(self, upload: Upload, _: object = None) -> None:
        with self._lock:
            self._unreserve(upload)
            self._park_release()

    def _off_the_loop(self, upload: Upload) -> TConn:
        """The upload's connection, no longer read by the event loop, what was read of it
        served first by its reader."""
        self._forget(upload)
        upload.conn.sock.setblocking(True)
        upload.conn.parser.unreader.pieces.extend(upload.pieces)
        return upload.conn

    def _hand_over(self, upload: Upload, pool: futures.ThreadPoolExecutor) -> None:
        """Serve the request from what was read ahead of it (all of it, or a page's head
        sent slowly); its bytes stay counted against the budget until it has been served."""
        conn = self._off_the_loop(upload)
        conn.parser.unreader.allowed = self.body_timeout
        served = pool.submit(self.handle, conn)
        self._wrap_future(served, conn)
        served.add_done_callback(partial(self._release, upload))

    def _drop(self, upload: Upload, answer: bytes = b"") -> None:
        self._forget(upload)
        self._release(upload)
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
        self._slow_noted(now)
        with self._lock:  # uploads that waited are read on from the threads that free room
            late = [u for u in self.uploads.values() if u.deadline < now]
            waited = [u for u in self.parked if u.deadline < now]
            for upload in waited:
                self.parked.remove(upload)
        for upload in late:
            self._drop(upload, TIMEOUT_ANSWER)
        for upload in waited:
            self._drop(upload, BUSY_ANSWER)

    def handle_quit(self, sig: int, frame: object) -> None:
        self.upload_pool.shutdown(wait=False)
        super().handle_quit(sig, frame)

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.upload_pool.shutdown(wait=False)
