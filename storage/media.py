"""Media checks with Pillow: what the bytes really are, EXIF facts, and JPEG thumbnails.

Originals are only read. A picture Pillow cannot decode, or one over the pixel limit
(a decompression bomb), gives a problem flag and no thumbnail, never an exception.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import warnings
from dataclasses import dataclass, field
from typing import IO, Any
from zoneinfo import ZoneInfo

import filetype
from PIL import Image, UnidentifiedImageError

try:  # iPhones shoot HEIC; decode it when the optional plugin is there.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pass

# We compare the pixel count with our own limit before decoding.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)

THUMB_SIZES = (1024, 256)
SNIFF_BYTES = 8192

# Same format, different names.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/heif": "image/heic",
    "image/x-png": "image/png",
}

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_DATETIME = 0x0132
TAG_DATETIME_ORIGINAL = 0x9003
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_ORIENTATION = 0x0112
ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def sniff(head: bytes) -> str | None:
    """The content type the first bytes show, or None if unknown."""
    return filetype.guess_mime(head[:SNIFF_BYTES]) if head else None


def content_type_matches(declared: str, detected: str | None) -> bool:
    """False only when the bytes are clearly something other than what was declared."""
    if detected is None:
        return True
    declared = ALIASES.get(declared.lower(), declared.lower())
    detected = ALIASES.get(detected.lower(), detected.lower())
    if declared.split("/")[0] != detected.split("/")[0]:
        # Containers: an M4A is MP4 audio, a 3GP voice note may sniff as video.
        containers = {"audio/mp4", "video/mp4", "video/3gpp", "audio/3gpp", "audio/x-m4a"}
        return declared in containers and detected in containers
    if declared.startswith("image/"):
        return declared == detected
    return True


@dataclass
class ImageReport:
    width: int | None = None
    height: int | None = None
    taken_at: dt.datetime | None = None
    make: str | None = None
    model: str | None = None
    gps: tuple[float, float] | None = None
    thumbnails: dict[int, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def facts(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.width:
            out["width"], out["height"] = self.width, self.height
        if self.taken_at:
            out["exif_taken_at"] = self.taken_at.astimezone(dt.UTC).isoformat()
        if self.make:
            out["camera_make"] = self.make
        if self.model:
            out["camera_model"] = self.model
        if self.gps:
            out["exif_gps"] = {"lat": self.gps[0], "lon": self.gps[1]}
        return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip("\x00 ").strip()
    return text[:100] or None


def _exif_time(raw: Any, offset: Any, tz: ZoneInfo) -> dt.datetime | None:
    text = _text(raw)
    if not text:
        return None
    try:
        naive = dt.datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset_text = _text(offset)
    if offset_text:
        try:
            return dt.datetime.fromisoformat(naive.isoformat() + offset_text)
        except ValueError:
            pass
    # Without an offset the camera wrote local wall time.
    return naive.replace(tzinfo=tz)


def _degrees(value: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    deg = d + m / 60 + s / 3600
    return -deg if _text(ref) in ("S", "W") else deg


def _read_exif(im: Image.Image, report: ImageReport, tz: ZoneInfo) -> None:
    exif = im.getexif()
    report.make = _text(exif.get(TAG_MAKE))
    report.model = _text(exif.get(TAG_MODEL))
    sub = exif.get_ifd(EXIF_IFD)
    report.taken_at = _exif_time(
        sub.get(TAG_DATETIME_ORIGINAL) or exif.get(TAG_DATETIME),
        sub.get(TAG_OFFSET_TIME_ORIGINAL),
        tz,
    )
    gps = exif.get_ifd(GPS_IFD)
    if gps:
        lat, lon = _degrees(gps.get(2), gps.get(1)), _degrees(gps.get(4), gps.get(3))
        if lat is not None and lon is not None:
            report.gps = (lat, lon)


def _jpeg(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80)
    return out.getvalue()


def _shrink(im: Image.Image, longest: int) -> Image.Image:
    """``im`` scaled down so that its longer side is at most ``longest``."""
    if max(im.size) <= longest:
        return im
    factor = longest / max(im.size)
    box = max(1, round(im.size[0] * factor)), max(1, round(im.size[1] * factor))
    # HAMMING: antialiased like BICUBIC for a downscale, at about half its cost.
    return im.resize(box, Image.Resampling.HAMMING)


def _upright(im: Image.Image, orientation: Any) -> Image.Image:
    """``im`` turned as its EXIF orientation says (what ImageOps.exif_transpose does)."""
    method = ORIENTATIONS.get(orientation) if isinstance(orientation, int) else None
    return im.transpose(method) if method is not None else im


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """``size`` scaled so that its longer side is ``longest`` (never below 1 pixel)."""
    factor = longest / max(size)
    return max(1, math.ceil(size[0] * factor)), max(1, math.ceil(size[1] * factor))


def examine_image(
    source: IO[bytes], *, max_pixels: int, tz: ZoneInfo, use_draft: bool = True
) -> ImageReport:
    """EXIF facts and 1024/256 px thumbnails (EXIF orientation applied) of an image file."""
    report = ImageReport()
    try:
        with Image.open(source) as im:
            report.width, report.height = im.size
            if im.size[0] * im.size[1] > max_pixels:
                report.problems.append("image_too_large")
                return report
            try:
                _read_exif(im, report, tz)
            except Exception:  # a broken EXIF block must not lose the picture
                report.problems.append("exif_unreadable")
            if use_draft and im.format == "JPEG":
                # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT: much faster. The
                # box must have the picture's shape, or the short side forbids any scaling.
                im.draft("RGB", _fit(im.size, THUMB_SIZES[0]))
            orientation = im.getexif().get(TAG_ORIENTATION)
            picture: Image.Image = im if im.mode == "RGB" else im.convert("RGB")
            # One decode: 1024 from the picture, 256 from the 1024. Shrink first and turn
            # the small picture upright (the box is square, so the fit is the same).
            for size in THUMB_SIZES:
                picture = _shrink(picture, size)
                report.thumbnails[size] = _jpeg(_upright(picture, orientation))
    except Image.DecompressionBombError:
        report.problems.append("image_too_large")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        report.problems.append("image_unreadable")
        report.thumbnails.clear()
    return report
