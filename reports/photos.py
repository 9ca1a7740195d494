"""Resident photos: checked, re-encoded without EXIF (where GPS coordinates and the phone's
identity live), and bounded in size before anything is stored.

Decoding is what costs memory (Pillow holds 4 bytes a pixel: a 40-megapixel photo is
160 MB before any copy), and a file of a few hundred kilobytes can declare that many
pixels. So the size the header declares is checked first, JPEGs are decoded straight at
1/2, 1/4 or 1/8 scale by the decoder itself (Pillow's draft mode), nothing is decoded to
more than MAX_DECODED_PIXELS, and each process decodes at most PHOTO_DECODE_SLOTS photos
at once (photo_slot), on threads of its own at a lower CPU priority, kept off the CPU left
to pages (photo_clean)."""

import io
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from civicpulse.core.cpus import keep_to_upload_lane

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # the most a photo may declare; JPEGs that large are decoded scaled down
# The most pixels any photo is decoded to (16 MB at 4 bytes a pixel): a JPEG is scaled
# down by its decoder to fit, any other format must already fit.
MAX_DECODED_PIXELS = 4_000_000
# A JPEG is decoded at the smallest size its decoder offers that leaves its long side at
# least KEPT_SIDE (no visible loss), and resized only if that is still over MAX_SIDE:
# resizing costs twice what decoding at that scale does (a 40-megapixel JPEG decoded at
# 2,000 x 1,250: 16 ms; resized to 1,600: 34 ms more), and a phone's 12 megapixels
# (4,032 x 3,024) land at 2,016 pixels, so the common photo is never resized. Stored
# photos have up to 1.6 times the pixels of a 1,600-pixel limit: the storage quota counts
# what is stored.
KEPT_SIDE = 1600
MAX_SIDE = 2048  # the most a stored photo keeps on its long side
ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# Phones often write multi-picture JPEGs; the first picture is kept, as a plain JPEG.
SAVED_AS = {"MPO": "JPEG"}
DRAFT_SCALES = (1, 2, 4, 8)  # what a JPEG decoder can scale by while decoding
# How much nicer than the web threads the threads decoding photos are: the scheduler gives
# them what the threads serving every other request leave over (bench/photo_flood.py).
DECODE_NICENESS = 10
# What _photo_reencode holds at once: the decoded picture and its clean copy (a third only
# while a photo is resized or turned upright).
PICTURES_PER_SLOT = 2


class PhotoBusy(Exception):
    """Every photo slot of this process was taken (for PHOTO_SLOT_WAIT_S): try again."""


_slots: threading.BoundedSemaphore | None = None
_decoders: ThreadPoolExecutor | None = None
_admissions: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()


def _photo_slots() -> threading.BoundedSemaphore:
    global _slots, _decoders
    if _slots is None:
        with _slots_lock:  # settings are read on first use, not at import
            if _slots is None:
                count = max(1, settings.PHOTO_DECODE_SLOTS)
                # Pillow gives an image's memory back to the system when it is freed, and the
                # next photo's pages are then faulted in afresh: a third of a photo's CPU
                # (bench/photo_flood.py). Each slot's two pictures (the decoded one and its
                # clean copy, at most 16 MB each) are kept for the next photo instead.
                # (PILLOW_BLOCKS_MAX, where the operator set more, is kept.)
                Image.core.set_blocks_max(max(Image.core.get_blocks_max(), PICTURES_PER_SLOT * count))
                _decoders = ThreadPoolExecutor(count, "photo-decode", initializer=_decoding_thread_start)
                _slots = threading.BoundedSemaphore(count)
    return _slots


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


def _decoding_thread_start() -> None:
    """Keep this thread to the upload lane's CPUs, and lower its CPU priority (Linux: a
    thread id is a PRIO_PROCESS target). Raising niceness needs no privilege; it is never
    lowered again, as these threads only ever decode photos."""
    keep_to_upload_lane()
    try:
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + DECODE_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness))
    except (OSError, AttributeError):  # another system: the same decoding, at normal priority
        pass


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


def _draft_scale(width: int, height: int) -> int:
    """The JPEG decode scale: the largest that still leaves the long side at least
    KEPT_SIDE (no visible loss once stored), and at least the smallest that fits
    MAX_DECODED_PIXELS."""
    keeps_detail = max(s for s in DRAFT_SCALES if s == 1 or max(width, height) // s >= KEPT_SIDE)
    fits = next((s for s in DRAFT_SCALES if (width // s) * (height // s) <= MAX_DECODED_PIXELS), 0)
    if not fits:
        raise ValidationError(_("That photo is too large."))
    return max(keeps_detail, fits)


def photo_clean(upload: UploadedFile) -> ContentFile:
    """Return the photo re-encoded from its pixels alone, or raise ValidationError. The
    work runs on one of the process's low-priority decoding threads while the calling
    thread waits; it takes no slot itself: callers decoding on behalf of a request hold
    photo_slot()."""
    _photo_slots()
    assert _decoders is not None
    return _decoders.submit(_photo_reencode, upload).result()


def _photo_reencode(upload: UploadedFile) -> ContentFile:
    if upload.size is None:  # Django's upload handlers always count it; anything else is not a photo
        raise ValidationError(_("That file is not a photo we can read."))
    if upload.size > MAX_PHOTO_BYTES:
        raise ValidationError(_("Photos can be up to %(mb)d MB.") % {"mb": MAX_PHOTO_BYTES // (1024 * 1024)})
    image: Image.Image  # the opened file, then the copies made of it below
    try:
        upload.seek(0)
        image = Image.open(upload)
        if image.format not in ALLOWED_FORMATS and image.format not in SAVED_AS:
            raise ValidationError(_("Send a JPEG, PNG or WebP photo."))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ValidationError(_("That photo is too large."))
        if image.format in ("JPEG", "MPO"):
            scale = _draft_scale(width, height)
            if scale > 1:
                # Pillow picks the largest scale (of 1, 2, 4, 8) leaving at least this size.
                image.draft("RGB", (max(1, width // scale), max(1, height // scale)))
        elif width * height > MAX_DECODED_PIXELS:
            raise ValidationError(
                _("That photo is too large: send a JPEG, or a PNG or WebP of up to %(mp)d megapixels.")
                % {"mp": MAX_DECODED_PIXELS // 1_000_000}
            )
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationError(_("That file is not a photo we can read.")) from exc
    image_format = SAVED_AS.get(image.format, image.format)
    # Scale down first, so every copy below is of the small picture; then apply the
    # orientation EXIF asks for (thumbnail keeps EXIF), then drop EXIF (and every other
    # chunk) by writing a new file from the pixels only.
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode == "P":  # a palette would be lost in the copy below: spell colours out
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    return ContentFile(
        _encoded(clean, image_format), name=f"{uuid.uuid4().hex}.{ALLOWED_FORMATS[image_format]}"
    )


def _encoded(image: Image.Image, image_format: str) -> bytes:
    options = {"quality": 85} if image_format != "PNG" else {}
    if image_format == "JPEG":
        # Into a file: Pillow's JPEG encoder writes to a file descriptor without holding the
        # GIL, and into Python bytes while holding it (a fifth of the time the GIL was held
        # in a process under a photo flood, other tenants' pages waiting for it).
        try:
            with tempfile.TemporaryFile() as spool:
                image.save(spool, format=image_format, **options)
                spool.seek(0)
                return spool.read()
        except OSError:  # no writable temporary directory, or a full one: in memory instead
            pass
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()
