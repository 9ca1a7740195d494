"""Resident photos: checked, re-encoded without EXIF (where GPS coordinates and the phone's
identity live), and bounded in size before anything is stored (reports.photo_codec).

Each web process decodes at most PHOTO_DECODE_SLOTS photos at once (photo_slot), in
processes of its own (photo_clean), so that a file built to hang or crash the decoder, or
a decoder killed for its memory, costs that process and never the web process's threads,
and a photo taking too long can be stopped (a thread cannot be). A lower CPU priority
then also holds for all of the work: a decoding thread made nicer held the interpreter's
lock (GIL) while it waited for a CPU (docs/security.md, docs/performance.md)."""

import logging
import os
import select
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from civicpulse.core.cpus import upload_lane_cpus
from reports.photo_codec import (
    MAX_DECODED_PIXELS,
    DecoderFailed,
    PhotoRefused,
    Reencoded,
    answer_read,
    frame_write,
)

logger = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 8 * 1024 * 1024
# How much nicer than the web process its photo decoding processes are: the scheduler
# gives them what the threads serving every other request leave over.
DECODE_NICENESS = 10


def _refusal(reason: str) -> str:
    """What the resident is told for a PhotoRefused reason."""
    if reason == "format":
        return _("Send a JPEG, PNG or WebP photo.")
    if reason in ("too_large", "too_slow"):
        return _("That photo is too large.")
    if reason == "too_large_not_jpeg":
        return _("That photo is too large: send a JPEG, or a PNG or WebP of up to %(mp)d megapixels.") % {
            "mp": MAX_DECODED_PIXELS // 1_000_000
        }
    return _("That file is not a photo we can read.")


class PhotoBusy(Exception):
    """Every photo slot of this process was taken (for PHOTO_SLOT_WAIT_S), or its decoding
    process died under the photo: try again."""


_slots: threading.BoundedSemaphore | None = None
_admissions: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


def _photo_slots() -> threading.BoundedSemaphore:
    global _slots
    if _slots is None:
        with _slots_lock:  # settings are read on first use, not at import
            if _slots is None:
                _slots = threading.BoundedSemaphore(max(1, settings.PHOTO_DECODE_SLOTS))
    return _slots


class _Decoder:
    """One photo decoding process (reports.photo_codec run as a program): a fresh
    interpreter that loads Pillow and nothing else, kept to the upload lane's CPUs and
    DECODE_NICENESS steps nicer. About 20 MB resident, 40 MB with the pictures of a photo
    it decoded (kept for the next). It ends when its input closes or the thread that
    started it ends: with this process, however it ends."""

    def __init__(self) -> None:
        try:
            cpus = upload_lane_cpus()
        except ValueError:  # refused at start; unreadable since: any CPU
            cpus = None
        # Nothing of the web process's environment but what runs Python and Pillow: its
        # secrets (the database's, the key's) are not in the environment of a decoder that
        # a crafted file would take over. (It runs as the same user, so files the web
        # process can read, it can read.)
        environment = {
            k: v for k, v in os.environ.items() if k in _DECODER_ENVIRONMENT or k.startswith("PILLOW_")
        }
        # glibc's fixed mmap threshold, as the web processes have it (gunicorn_conf.post_fork).
        environment.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
        self.answered = 0  # photos answered, refusals included
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reports.photo_codec",
                ",".join(map(str, sorted(cpus or ()))),
                str(DECODE_NICENESS),
            ],
            cwd=_CODE_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )

    def decoded(self, data: bytes) -> Reencoded:
        """Raises PhotoRefused, DecoderFailed (both whole answers: the process may take the
        next photo), DecoderLost if the process died, or DecodeTooSlow if it did not
        answer within PHOTO_DECODE_TIMEOUT_S (a file built to take minutes to decode)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            frame_write(self.process.stdin, data)
            # The process writes nothing unasked, and each answer only once its photo is
            # decoded; every answer is read to its end before the next photo is sent. So
            # nothing is ever left in the reader's buffer here, and the wait is for the
            # answer's first byte on the pipe itself (poll, not select: any descriptor
            # number).
            waiting = select.poll()
            waiting.register(self.process.stdout, select.POLLIN)
            if not waiting.poll(settings.PHOTO_DECODE_TIMEOUT_S * 1000):
                raise DecodeTooSlow
            done = answer_read(self.process.stdout)
        except (OSError, EOFError) as exc:
            raise DecoderLost from exc
        self.answered += 1
        return done

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:  # the part of a photo still buffered, for a process gone
                    pass


class DecoderLost(Exception):
    """A photo decoding process died under a photo (killed for its memory, say)."""


class DecodeTooSlow(Exception):
    """A photo decoding process took more than PHOTO_DECODE_TIMEOUT_S over one photo."""


_CODE_ROOT = Path(__file__).resolve().parent.parent  # where `reports` is imported from
_DECODER_ENVIRONMENT = {"PATH", "LANG", "LC_ALL", "TMPDIR", "PYTHONHASHSEED"}
# How a decoder ends when a file crashes it (not how it is killed).
_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL}
_idle_decoders: list[_Decoder] = []


def _photo_admissions() -> threading.BoundedSemaphore:
    global _admissions
    if _admissions is None:
        with _slots_lock:
            if _admissions is None:
                _admissions = threading.BoundedSemaphore(max(1, settings.PHOTO_POSTS_IN_FLIGHT))
    return _admissions


@contextmanager
def photo_post_admitted() -> Iterator[bool]:
    """Whether a POST carrying a photo may be read, holding one of this process's
    PHOTO_POSTS_IN_FLIGHT places until it is answered (never waiting for one).

    The decoding slot is taken only once the body is in and parsed; without this bound
    every photo POST arriving while the slot happened to be free would be read and parsed
    in full, only to find the slot taken by then and be answered with the form drawn
    again: in a flood, most of the server's work (bench/photo_flood.py)."""
    admissions = _photo_admissions()
    admitted = admissions.acquire(blocking=False)
    try:
        yield admitted
    finally:
        if admitted:
            admissions.release()


@contextmanager
def photo_slot() -> Iterator[None]:
    """Hold one of this process's photo slots, or raise PhotoBusy after waiting
    PHOTO_SLOT_WAIT_S (none by default): a request waiting here holds a web thread that
    other residents and other tenants need."""
    slots = _photo_slots()
    if not slots.acquire(timeout=settings.PHOTO_SLOT_WAIT_S):
        raise PhotoBusy
    try:
        yield
    finally:
        slots.release()


def photo_slot_free() -> bool:
    """Whether a photo slot of this process frees up within PHOTO_SLOT_WAIT_S, asked before
    a photo POST is even validated, so that a flood is turned away at the cost of reading
    its form only. A hint: the slot may be taken again by the time photo_slot() asks."""
    slots = _photo_slots()
    if not slots.acquire(timeout=settings.PHOTO_SLOT_WAIT_S):
        return False
    slots.release()
    return True


def photo_decoded(data: bytes) -> Reencoded:
    """`data` re-encoded by one of this process's decoding processes, the calling thread
    waiting for it. Raises PhotoRefused (also for a photo that takes over
    PHOTO_DECODE_TIMEOUT_S, or that crashed its process; either process is stopped),
    PhotoBusy if no process could be started or one was killed under the photo (the next
    photo starts another), DecoderFailed for a defect in the decoding (a 500). On any
    other error the process is stopped, never used again."""
    with _slots_lock:
        # Those that died while idle (each waited for by stop(), so none is left a zombie);
        # then the one taken, or a new one.
        dead = [d for d in _idle_decoders if d.process.poll() is not None]
        _idle_decoders[:] = [d for d in _idle_decoders if d not in dead]
        decoder = _idle_decoders.pop() if _idle_decoders else None
    for gone in dead:
        gone.stop()
    try:
        decoder = decoder or _Decoder()
    except OSError as exc:  # out of processes or file descriptors, for now
        logger.warning("no photo decoding process could be started: %s", exc)
        raise PhotoBusy from exc
    try:
        done = decoder.decoded(data)
    except (PhotoRefused, DecoderFailed):  # whole answers: the process may take the next photo
        _decoder_give_back(decoder)
        raise
    except DecodeTooSlow:
        decoder.stop()
        logger.warning("a photo took over %s s to decode: refused", settings.PHOTO_DECODE_TIMEOUT_S)
        raise PhotoRefused("too_slow") from None
    except DecoderLost:
        decoder.stop()
        code = decoder.process.returncode
        if decoder.answered == 0:
            logger.error(
                "a photo decoding process ended before it answered (exit code %s): see its standard error",
                code,
            )
        else:
            logger.warning("a photo decoding process ended under a photo (exit code %s)", code)
        if code is not None and -code in _CRASH_SIGNALS:  # crashed by this file: it would again
            raise PhotoRefused("unreadable") from None
        raise PhotoBusy from None  # killed (for its memory, say): the next try may pass
    except BaseException:
        # Anything else may leave part of an answer unread, which the next photo would
        # read as its own: the process is not used again.
        decoder.stop()
        raise
    _decoder_give_back(decoder)
    return done


def _decoder_give_back(decoder: _Decoder) -> None:
    with _slots_lock:
        kept = len(_idle_decoders) < max(1, settings.PHOTO_DECODE_SLOTS)
        if kept:
            _idle_decoders.append(decoder)
    if not kept:  # started for a caller that held no slot
        decoder.stop()


def photo_clean(upload: UploadedFile) -> ContentFile:
    """Return the photo re-encoded from its pixels alone, or raise ValidationError. It
    takes no slot itself: callers decoding on behalf of a request hold photo_slot()."""
    if upload.size is None:  # Django's upload handlers always count it; anything else is not a photo
        raise ValidationError(_refusal("unreadable"))
    if upload.size > MAX_PHOTO_BYTES:
        raise ValidationError(_("Photos can be up to %(mb)d MB.") % {"mb": MAX_PHOTO_BYTES // (1024 * 1024)})
    upload.seek(0)
    try:
        done = photo_decoded(upload.read())
    except PhotoRefused as refused:
        raise ValidationError(_refusal(refused.reason)) from None
    return ContentFile(done.data, name=f"{uuid.uuid4().hex}.{done.extension}")
