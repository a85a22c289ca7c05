"""Face: safe decoding (bad input), exactly one face, 1:1 matching, enrolment with consent,
active liveness with replay and mirror detection, face as a step-up factor."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image

from finbridge.core import ManualClock, Principal
from finbridge.core.errors import (
    AuthenticationFailed,
    PayloadTooLarge,
    StepUpRequired,
    ValidationError,
)
from finbridge.identity.consent import ConsentRequired
from finbridge.identity.face import FaceModel, decode_image, distance
from finbridge.identity.services import IdentityServices

from .conftest import PASSWORD, ZHANG, enrol_customer
from .faces import blank, frames_for, mirror, photo


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return FaceModel()


def _png(size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", ValidationError, "empty"),
        (b"%PDF-1.7 definitely not a picture", ValidationError, "not a readable image"),
        (photo("obama_a.jpg")[:6000], ValidationError, "corrupt or truncated"),
        (b"\xff\xd8\xff" + b"\x00" * (20 * 1024 * 1024), PayloadTooLarge, "larger than"),
        (_png((9000, 5000)), PayloadTooLarge, "too many pixels"),
    ],
    ids=["empty", "not-an-image", "truncated-jpeg", "20MB", "pixel-bomb"],
)
def test_bad_images_refused_naming_field(data: bytes, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as info:
        decode_image(data)
    assert info.value.field == "image"


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims huge dimensions (a decompression bomb's calling card)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [12_000, 30_000])
def test_decompression_bombs_refused_before_decoding(side: int) -> None:
    with pytest.raises(PayloadTooLarge, match="too many pixels") as info:
        decode_image(_png_header_only(side, side))
    assert info.value.field == "image"


def test_gif_refused() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (50, 50)).save(buf, format="GIF")
    with pytest.raises(ValidationError, match="unsupported image format GIF"):
        decode_image(buf.getvalue())


def test_downscaled_to_640(model: FaceModel) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1920, 1080)).save(buf, format="JPEG")
    assert max(decode_image(buf.getvalue()).shape[:2]) <= 640


def test_exactly_one_face_and_matching(model: FaceModel) -> None:
    with pytest.raises(ValidationError, match="no face"):
        model.analyse(blank())
    with pytest.raises(ValidationError, match="2 faces"):
        model.analyse(photo("two_people.jpg"))
    a = model.analyse(photo("obama_a.jpg"))
    b = model.analyse(photo("obama_b.jpg"))
    other = model.analyse(photo("biden.jpg"))
    assert distance(a.descriptor, b.descriptor) < 0.5 < distance(a.descriptor, other.descriptor)


def _customer_with_face(ids: IdentityServices) -> Principal:
    enrol_customer(ids)
    tokens = ids.login.start(ZHANG.phone, PASSWORD).tokens
    assert tokens is not None
    me = ids.sessions.authenticate(tokens.access_token)
    assert me.customer_id is not None
    with pytest.raises(ConsentRequired, match="biometric_face"):
        ids.face.enrol(me, photo("obama_a.jpg"))
    ids.consents.grant(me, me.customer_id, "biometric_face", ["face_template"])
    ids.face.enrol(me, photo("obama_a.jpg"))
    return me


def test_enrol_match_and_template_sealed(sqlite_ids: IdentityServices) -> None:
    ids = sqlite_ids
    me = _customer_with_face(ids)
    assert ids.face.match(me, photo("obama_b.jpg")).matched
    assert not ids.face.match(me, photo("biden.jpg")).matched
    assert "face" in ids.persons.view(me, me.customer_id or "").factors
    # Replacing the face needs a fresh factor; a password session alone cannot plant a new one.
    with pytest.raises(StepUpRequired):
        ids.face.enrol(me, photo("biden.jpg"))


def test_liveness_pass_then_replays_and_mirrors_fail(
    sqlite_ids: IdentityServices, clock: ManualClock
) -> None:
    ids = sqlite_ids
    me = _customer_with_face(ids)
    with pytest.raises(StepUpRequired):
        ids.step_up.require_step_up(me, "payee.add")
    challenge = ids.face.challenge(me)
    assert challenge.steps[0] == "center" and len(challenge.steps) == 7
    frames = frames_for(challenge.steps, shift=0)
    result = ids.face.verify_liveness(me, challenge.id, frames)
    assert result.passed and result.observed == challenge.steps
    ids.step_up.require_step_up(me, "payee.add")  # face + liveness is a fresh second factor
    ids.step_up.require_step_up(me, "transfer.large")  # on top of a password session
    # The same challenge cannot be answered twice.
    with pytest.raises(AuthenticationFailed, match="used or expired"):
        ids.face.verify_liveness(me, challenge.id, frames)
    # Replaying the recorded frames for a fresh challenge fails (even for the same steps).
    again = ids.face.challenge(me)
    with pytest.raises(AuthenticationFailed, match="replayed"):
        ids.face.verify_liveness(me, again.id, frames_for(again.steps, shift=0))
    # Mirrored recordings (left and right swapped) are caught from the landmark geometry.
    third = ids.face.challenge(me)
    swap = {"turn_left": "turn_right", "turn_right": "turn_left", "center": "center"}
    mirrored_frames = [mirror(f) for f in frames_for([swap[s] for s in third.steps], shift=0)]
    with pytest.raises(AuthenticationFailed, match="mirrored"):
        ids.face.verify_liveness(me, third.id, mirrored_frames)
    outcomes = [e.outcome for e in ids.audit.entries() if e.action == "face.liveness"]
    assert outcomes == ["failure", "failure", "success"]


def test_liveness_wrong_moves_other_person_and_expiry(
    sqlite_ids: IdentityServices, clock: ManualClock
) -> None:
    ids = sqlite_ids
    me = _customer_with_face(ids)
    ch = ids.face.challenge(me)
    still = frames_for(["center"] * len(ch.steps), shift=6)  # a photo held up: no movement
    with pytest.raises(AuthenticationFailed, match="do not follow"):
        ids.face.verify_liveness(me, ch.id, still)
    ch = ids.face.challenge(me)
    frames = frames_for(ch.steps, shift=14)
    frames[3] = photo("biden.jpg")  # someone else in the middle of the sequence
    with pytest.raises(AuthenticationFailed, match="does not match"):
        ids.face.verify_liveness(me, ch.id, frames)
    ch = ids.face.challenge(me)
    with pytest.raises(ValidationError, match="between 7 and"):
        ids.face.verify_liveness(me, ch.id, frames[:2])
    ch = ids.face.challenge(me)
    clock.advance(timedelta(minutes=3))
    with pytest.raises(AuthenticationFailed, match="expired"):
        ids.face.verify_liveness(me, ch.id, frames)
    with pytest.raises(StepUpRequired):
        ids.step_up.require_step_up(me, "payee.add")
