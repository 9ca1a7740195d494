"""A resident photo decoded and re-encoded from its pixels alone: the work done in the
photo decoding processes (reports.photos). Pillow only, no Django: these processes never
load the application.

Decoding is what costs memory (Pillow holds 4 bytes a pixel: a 40-megapixel photo is
160 MB before any copy), and a file of a few hundred kilobytes can declare that many
pixels. So the size the header declares is checked first, JPEGs are decoded straight at
1/2, 1/4 or 1/8 scale by the decoder itself (Pillow's draft mode), and nothing is decoded
to more than MAX_DECODED_PIXELS.

Run as a program (`python -m reports.photo_codec CPUS NICENESS`), it decodes the photos
its web process sends down its standard input, one after another, each answered on its
standard output: a frame of JSON saying what became of it, then, for a stored photo, a
frame of the new file. A frame is four bytes of length (big-endian), then the bytes."""

import ctypes
import io
import json
import os
import re
import resource
import signal
import struct
import sys
import traceback
from dataclasses import dataclass
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

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
# How other pictures begin (GIF, BMP, TIFF; HEIC and AVIF have "ftyp" at byte 4): the
# resident is asked for another format rather than told the file cannot be read.
OTHER_PICTURES = (b"GIF8", b"BM", b"II*\0", b"MM\0*")
DRAFT_SCALES = (1, 2, 4, 8)  # what a JPEG decoder can scale by while decoding
# The most scans a JPEG's picture may have (a progressive one has about 10): every scan is
# decoded over the whole picture, so a 400 KB file of thousands of tiny scans would take a
# decoder past PHOTO_DECODE_TIMEOUT_S.
MAX_JPEG_SCANS = 64
# A JPEG marker that a length follows: FF (and any fill FFs), then neither 00 (an FF of a
# scan's data), nor a restart marker (D0-D7) or TEM (01), which stand alone.
_MARKER = re.compile(rb"\xff+([^\x00\x01\xd0-\xd7\xff])")
# What reencode holds at once: the decoded picture and its clean copy (a third only while
# a photo is resized or turned upright).
PICTURES_HELD = 2
ADDRESS_SPACE_BYTES = 1024 * 1024 * 1024  # the most a decoding process may map
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class PhotoRefused(Exception):
    """The photo cannot be stored; `reason` (one of the keys of reports.photos'
    REFUSALS) says why, and the web process words it for the resident."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DecoderFailed(RuntimeError):
    """An error reencode does not expect (its traceback is the message): a defect to be
    fixed, answered 500 like any other. The process answered, and may take the next
    photo."""


@dataclass(frozen=True)
class Reencoded:
    data: bytes
    extension: str
    decoded_size: tuple[int, int]  # the pixels the decoder produced, before any resizing


def decoding_process_start(cpus: set[int] | None, niceness: int) -> None:
    """Set up a photo decoding process: on `cpus` (None: any), `niceness` steps nicer than
    the web process that started it, with the memory of the pictures it holds kept for the
    next photo. Pillow gives an image's memory back to the system when it is freed, and the
    next photo's pages are then faulted in afresh: a third of a photo's CPU
    (bench/photo_flood.py). Raising niceness needs no privilege; it is never lowered."""
    Image.core.set_blocks_max(max(Image.core.get_blocks_max(), PICTURES_HELD))
    # What a decoder may map at most: its interpreter and pictures take about 150 MB of
    # address space (virtual size; about 40 MB resident with a photo's pictures); a file
    # that would make it take more is refused, not decoded.
    try:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    except (ValueError, OSError):  # a lower limit already set, or none to be set here
        pass
    # Each step on its own: one that this system refuses leaves the others done.
    try:
        if cpus:
            os.sched_setaffinity(0, cpus)
    except (OSError, AttributeError):  # another system: any CPU
        pass
    try:
        os.nice(niceness)
    except OSError:
        pass
    try:
        # Short of memory, the kernel stops a decoder before any web process.
        with open("/proc/self/oom_score_adj", "w") as adjust:
            adjust.write("1000")
    except OSError:
        pass
    try:
        # Ends with the web process, even in the middle of a photo (Linux: prctl
        # PR_SET_PDEATHSIG, SIGKILL). The signal comes when the thread that started this
        # process ends, so decoders are started only from threads that live as long as
        # their process (gunicorn's pools never retire a thread); one ended early is
        # replaced at the next photo.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _draft_scale(width: int, height: int) -> int:
    """The JPEG decode scale: the largest that still leaves the long side at least
    KEPT_SIDE (no visible loss once stored), and at least the smallest that fits
    MAX_DECODED_PIXELS."""
    keeps_detail = max(s for s in DRAFT_SCALES if s == 1 or max(width, height) // s >= KEPT_SIDE)
    fits = next((s for s in DRAFT_SCALES if (width // s) * (height // s) <= MAX_DECODED_PIXELS), 0)
    if not fits:
        raise PhotoRefused("too_large")
    return max(keeps_detail, fits)


def _jpeg_scans(data: bytes) -> int:
    """The scans of a JPEG file's first picture, counted up to MAX_JPEG_SCANS + 1, as its
    decoder reads them: from marker to marker (bytes that are none are skipped, as the
    decoder skips them), each segment skipped by its length (an EXIF segment, whose
    thumbnail has scans of its own, whole), up to the picture's end; what follows it (the
    video of a phone's motion photo) is not looked at. A length the decoder could not
    read counts as too many."""
    scans, at = 0, 2  # past the start marker
    while scans <= MAX_JPEG_SCANS:
        found = _MARKER.search(data, at)
        if found is None or found[1] == b"\xd9":  # the file's or the picture's end
            break
        at = found.end()
        if at + 2 > len(data):  # cut short: the decoder finds it unreadable
            break
        length = int.from_bytes(data[at : at + 2], "big")
        if length < 2:
            return MAX_JPEG_SCANS + 1
        at += length
        scans += found[1] == b"\xda"
    return scans


def reencode(data: bytes) -> Reencoded:
    """The photo in `data` written anew from its pixels alone (no EXIF, where GPS
    coordinates and the phone's identity live), at most MAX_SIDE on its long side, turned
    upright; or PhotoRefused."""
    image: Image.Image  # the opened file, then the copies made of it below
    try:
        # Only the plugins of the formats kept look at the file (the JPEG one opens a
        # multi-picture JPEG as MPO).
        image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise PhotoRefused("too_large")
        if image.format in ("JPEG", "MPO"):
            if _jpeg_scans(data) > MAX_JPEG_SCANS:
                raise PhotoRefused("too_slow")
            scale = _draft_scale(width, height)
            if scale > 1:
                # Pillow picks the largest scale (of 1, 2, 4, 8) leaving at least this size.
                image.draft("RGB", (max(1, width // scale), max(1, height // scale)))
        elif width * height > MAX_DECODED_PIXELS:
            raise PhotoRefused("too_large_not_jpeg")
        image.load()
    except UnidentifiedImageError as exc:
        raise PhotoRefused(
            "format" if data.startswith(OTHER_PICTURES) or data[4:8] == b"ftyp" else "unreadable"
        ) from exc
    except (OSError, ValueError, EOFError, SyntaxError, struct.error, Image.DecompressionBombError) as exc:
        # What Pillow's plugins raise for a malformed file (a PNG text chunk that inflates
        # past its limit: ValueError): the file's fault, not a defect here.
        raise PhotoRefused("unreadable") from exc
    decoded_size = image.size
    image_format = SAVED_AS.get(image.format or "", image.format or "")
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
    out = io.BytesIO()
    clean.save(out, format=image_format, **({"quality": 85} if image_format != "PNG" else {}))
    return Reencoded(out.getvalue(), ALLOWED_FORMATS[image_format], decoded_size)


def frame_write(stream: IO[bytes], data: bytes) -> None:
    stream.write(len(data).to_bytes(4, "big"))
    stream.write(data)
    stream.flush()


def frame_read(stream: IO[bytes]) -> bytes:
    """The next frame; EOFError when the other end is gone."""
    head = stream.read(4)
    if len(head) < 4:
        raise EOFError
    size = int.from_bytes(head, "big")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return data


def answer_write(stream: IO[bytes], data: bytes) -> None:
    """Decode the photo in `data` and write what became of it."""
    try:
        done = reencode(data)
    except PhotoRefused as refused:
        frame_write(stream, json.dumps({"refused": refused.reason}).encode())
        return
    except MemoryError:  # more than ADDRESS_SPACE_BYTES would hold
        frame_write(stream, json.dumps({"refused": "too_large"}).encode())
        return
    except Exception:  # a defect, not the photo's fault: the web process raises it
        frame_write(stream, json.dumps({"failed": traceback.format_exc()}).encode())
        return
    frame_write(stream, json.dumps({"extension": done.extension, "size": done.decoded_size}).encode())
    frame_write(stream, done.data)


def answer_read(stream: IO[bytes]) -> Reencoded:
    """What answer_write wrote: the photo re-encoded, or PhotoRefused (DecoderFailed for a
    defect in the decoding process, with its traceback). EOFError when the process is gone."""
    head = json.loads(frame_read(stream))
    if "refused" in head:
        raise PhotoRefused(head["refused"])
    if "failed" in head:
        raise DecoderFailed(f"the photo decoding process failed:\n{head['failed']}")
    width, height = head["size"]
    return Reencoded(frame_read(stream), head["extension"], (width, height))


def serve(cpus: str, niceness: str) -> None:
    """Answer photos until the standard input closes. Standard output carries the answers
    only: anything printed goes to standard error."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    decoding_process_start({int(cpu) for cpu in cpus.split(",") if cpu} or None, int(niceness))
    while True:
        try:
            data = frame_read(sys.stdin.buffer)
        except EOFError:
            return
        answer_write(answers, data)


if __name__ == "__main__":
    # Run from the module's importable self, not from __main__, so that what it defines
    # has one identity.
    from reports.photo_codec import serve as serve_photos

    serve_photos(*sys.argv[1:])
