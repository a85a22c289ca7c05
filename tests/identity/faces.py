"""Face test helpers: the shipped photos and synthetic liveness frames built from them."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(__file__).parent / "data"
TURN_FACTOR = {"turn_left": 1.4, "turn_right": 0.65}  # see test_face.py: yaw about +0.13 / -0.16
NOSE_X = 243  # nose tip column in obama_a.jpg (448 px wide), measured once


def photo(name: str) -> bytes:
    return (DATA / name).read_bytes()


@cache
def _base() -> Image.Image:
    return Image.open(DATA / "obama_a.jpg").convert("RGB")


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def turned(step: str, nose_x: int = NOSE_X) -> Image.Image:
    """Stretch one side of the face and squeeze the other: the nose moves off the eye midpoint
    the way it does when a head turns (a crude stand-in for a real head turn)."""
    im = _base()
    if step == "center":
        return im.copy()
    a = TURN_FACTOR[step]
    w, h = im.size
    left = im.crop((0, 0, nose_x, h)).resize((round(nose_x * a), h))
    right = im.crop((nose_x, 0, w, h)).resize((round((w - nose_x) * (2 - a)), h))
    out = Image.new("RGB", (left.width + right.width, h))
    out.paste(left, (0, 0))
    out.paste(right, (left.width, 0))
    return out.resize((w, h))


def shifted(image: Image.Image, dx: int, dy: int) -> Image.Image:
    """Move the picture by (dx, dy) on a same-sized canvas: a new 'capture' of the same pose."""
    canvas = Image.new("RGB", image.size, (40, 40, 40))
    canvas.paste(image, (dx, dy))
    return canvas


def frames_for(steps: list[str] | tuple[str, ...], shift: int = 0) -> list[bytes]:
    return [
        _jpeg(shifted(turned(step), shift, shift // 2), quality=90 - i)
        for i, step in enumerate(steps)
    ]


def mirror(frame: bytes) -> bytes:
    return _jpeg(Image.open(io.BytesIO(frame)).transpose(Image.Transpose.FLIP_LEFT_RIGHT), 92)


def blank() -> bytes:
    return _jpeg(Image.fromarray(np.full((300, 300, 3), 200, dtype=np.uint8)))
