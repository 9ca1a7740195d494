"""Resident photos: checked, re-encoded without EXIF (where GPS coordinates and the phone's
identity live), and bounded in size before anything is stored."""

import io
import uuid

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding them
MAX_SIDE = 2048  # stored photos are scaled down to this
ALLOWED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# Phones often write multi-picture JPEGs; the first picture is kept, as a plain JPEG.
SAVED_AS = {"MPO": "JPEG"}


def photo_clean(upload: UploadedFile) -> ContentFile:
    """Return the photo re-encoded from its pixels alone, or raise ValidationError."""
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
        if image.width * image.height > MAX_PIXELS:
            raise ValidationError(_("That photo is too large."))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationError(_("That file is not a photo we can read.")) from exc
    image_format = SAVED_AS.get(image.format, image.format)
    # Apply the orientation EXIF asks for, then drop EXIF (and every other chunk) by
    # writing a new file from the pixels only.
    image = ImageOps.exif_transpose(image)
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    if image.mode == "P":  # a palette would be lost in the copy below: spell colours out
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, format=image_format, **({"quality": 85} if image_format != "PNG" else {}))
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.{ALLOWED_FORMATS[image_format]}")
