"""A fake camera for Chromium (``--use-file-for-fake-video-capture``): Y4M videos made at test
time from the face photos shipped for identity's tests (``tests/identity/data``, provenance
there; originally from ../shared/datasets/faces), following a liveness challenge's steps."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image
from tests.identity.faces import DATA, shifted, turned

FPS = 10
# Every video is this long (10 s), every frame different. Chromium re-reads the file each time
# a page starts the camera; measured here, it starts playing ~0.6 s after getUserMedia answers
# and runs ~12 frames a second (not quite the F10:1 asked for): a step of 12 frames still
# spans more than one of the page's 600 ms sampling intervals, so every step is seen.
FRAMES = 100


def _planes(image: Image.Image) -> bytes:
    """One I420 frame: full-size Y, then U and V at half size (Y4M's default 4:2:0)."""
    y, cb, cr = image.convert("YCbCr").split()
    half = (image.width // 2, image.height // 2)
    return (
        y.tobytes()
        + cb.resize(half, Image.Resampling.BILINEAR).tobytes()
        + cr.resize(half, Image.Resampling.BILINEAR).tobytes()
    )


def _write(path: Path, frames: list[Image.Image]) -> None:
    assert len(frames) == FRAMES, len(frames)
    w, h = frames[0].size
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{FPS}:1 Ip A1:1\n".encode())
        for frame in frames:
            out.write(b"FRAME\n" + _planes(frame))
    os.replace(tmp, path)  # Chromium opens the file when the page starts the camera


def _jitter(n: int, base: int) -> tuple[int, int]:
    # Every video frame differs a little, as a real camera's do (no two identical pictures).
    return base + n % 10, base // 2 + n // 10  # FRAMES different positions


def follow(path: Path, steps: list[str], step_ms: int, *, shift: int = 0) -> None:
    """The enrolled person (obama_a.jpg) making the challenge's head movements in turn."""
    per_step = max(1, round(step_ms * FPS / 1000))
    assert per_step * len(steps) <= FRAMES
    poses = [step for step in steps for _ in range(per_step)]
    poses += [steps[-1]] * (FRAMES - len(poses))  # then keep looking at the camera
    _write(path, [shifted(turned(pose), *_jitter(n, shift)) for n, pose in enumerate(poses)])


def still(path: Path, name: str, *, shift: int = 0) -> None:
    """A photo held in front of the camera: the same face, never turning."""
    photo = Image.open(DATA / name).convert("RGB")
    scale = min(448 / photo.width, 560 / photo.height)
    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)))
    canvas = Image.new("RGB", (448, 560), (40, 40, 40))
    canvas.paste(photo, ((448 - photo.width) // 2, (560 - photo.height) // 2))
    photo = canvas
    _write(path, [shifted(photo, *_jitter(n, shift)) for n in range(FRAMES)])


def other_person(path: Path) -> None:
    """Someone else (biden.jpg) in front of the camera."""
    still(path, "biden.jpg", shift=4)
