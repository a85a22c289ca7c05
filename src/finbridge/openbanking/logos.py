"""App logos: an uploaded PNG or JPEG is checked and drawn again as a fresh PNG by Pillow.

Only the re-encoded pixels are kept and served, never the uploaded bytes: metadata (EXIF with
its GPS position, text chunks, ICC profiles, comments) and anything smuggled after the image
data (a polyglot's HTML or script) are gone, and what our origin serves is always a plain PNG
of at most ``MAX_SIDE`` pixels a side, so the customer app's strict CSP (``img-src 'self'``)
needs no exception and no third-party origin ever sees a customer load the store.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from finbridge.core.errors import PayloadTooLarge, ValidationError

MAX_BYTES = 512 * 1024  # the upload
MAX_PIXELS = 4096 * 4096  # checked from the header, before any pixel is decoded
MIN_SIDE = 16
MAX_SIDE = 256  # what is kept and served (scaled down, aspect kept)
_FORMATS = {"PNG", "JPEG"}
# How every interface serves a logo: our own PNG, never sniffed as anything else, inert if
# opened on its own, cached by the browser only (its URL carries the logo's hash).
SERVE_HEADERS = {
    "Content-Type": "image/png",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=86400",
}


@dataclass(frozen=True, slots=True)
class CleanLogo:
    png: bytes
    width: int
    height: int
    sha256: str


def clean_logo(data: bytes) -> CleanLogo:
    """The logo as we serve it, or ``ValidationError`` (field ``logo``) saying what is wrong."""
    if not isinstance(data, bytes | bytearray) or not data:
        raise ValidationError("a PNG or JPEG image is required", field="logo")
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"the logo is larger than {MAX_BYTES // 1024} KiB", field="logo")
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, on decompression bombs: both are a refusal here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=sorted(_FORMATS)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ValidationError(
                        f"the logo has more than {MAX_PIXELS} pixels", field="logo"
                    )
                if min(width, height) < MIN_SIDE:
                    raise ValidationError(
                        f"the logo must be at least {MIN_SIDE} pixels a side", field="logo"
                    )
                image.load()  # decodes every pixel: a truncated or corrupt file fails here
                pixels = image.convert("RGBA")
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError("the logo must be a PNG or JPEG image", field="logo") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(f"the image could not be read ({exc})", field="logo") from None
    pixels.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # A new image from the raw pixels: nothing of the upload's info (EXIF, ICC, text) follows.
    fresh = Image.frombytes("RGBA", pixels.size, pixels.tobytes())
    out = io.BytesIO()
    fresh.save(out, "PNG", optimize=True)
    png = out.getvalue()
    return CleanLogo(png, fresh.width, fresh.height, hashlib.sha256(png).hexdigest())
