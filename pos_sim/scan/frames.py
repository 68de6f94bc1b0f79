"""Frame sources: image files and folders, cameras and video files, as images for the decoders.

A bad source never raises a bare library error: it raises (or, in a batch, yields) ``SourceError``
with a message that names the source and says what is wrong with it.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"})


class SourceError(Exception):
    """A source of frames or scans that cannot be read: ``origin`` names it, ``reason`` says why."""

    def __init__(self, origin: str, reason: str) -> None:
        self.origin = origin
        self.reason = reason
        super().__init__(f"{origin}: {reason}")


@dataclass(frozen=True)
class Frame:
    """One image to decode, and where it came from ("shelf/a.png", "camera:0#17", "door.mp4#42")."""

    origin: str
    image: np.ndarray  # uint8, BGR or grayscale


def image_file(path: Path | str) -> Frame:
    """The image in one file, as BGR; 32-bit single-channel images, which OpenCV cannot read, as grayscale."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SourceError(str(path), f"cannot read ({error.strerror or error})") from None
    return image_bytes(data, str(path))


def image_bytes(data: bytes, origin: str) -> Frame:
    """The image encoded in ``data`` (PNG, JPEG...), as ``image_file`` reads a file's."""
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    except cv2.error:  # OpenCV refuses some images outright (over its pixel limit, say)
        image = None
    if image is None:
        image = _pillow_image(data)
    if image is None:
        raise SourceError(origin, "not an image (neither OpenCV nor Pillow could read it)")
    return Frame(origin, image)


def _pillow_image(data: bytes) -> np.ndarray | None:
    """What OpenCV cannot read (32-bit integer or float TIFF, say), read by Pillow; None if it can't either."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            if picture.mode in ("I", "F") or picture.mode.startswith("I;"):
                # Deep single-channel images: stretch their range onto 0..255 so codes keep their contrast.
                deep = np.asarray(picture, dtype=np.float64)
                low, span = float(deep.min()), float(np.ptp(deep)) or 1.0
                return ((deep - low) * (255 / span)).round().astype(np.uint8)
            bgr: np.ndarray = cv2.cvtColor(np.asarray(picture.convert("RGB")), cv2.COLOR_RGB2BGR)
            return bgr
    except Exception:  # Pillow raises many kinds of error on hostile bytes; all mean "not an image"
        return None


def images(paths: Iterable[Path | str]) -> Iterator[Frame | SourceError]:
    """Frames from files and folders, in order; a folder gives its image files, sorted and recursive.

    Hidden files and folders are skipped, and in folders only files with an image suffix are read (a
    file named on its own is read whatever its suffix). A source that cannot be read is yielded as a
    ``SourceError`` so a batch can report it and go on.
    """
    for path in map(Path, paths):
        if path.is_dir():
            found = _folder(path)
        elif path.exists():
            found = iter([path])
        else:
            found = iter([SourceError(str(path), "no such file or folder")])
        for item in found:
            if isinstance(item, SourceError):
                yield item
                continue
            try:
                yield image_file(item)
            except SourceError as error:
                yield error


def _folder(folder: Path) -> Iterator[Path | SourceError]:
    """The image files under a folder, sorted by name and depth first; symlinked folders are not followed."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as error:
        yield SourceError(str(folder), f"cannot list folder ({error.strerror or error})")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from _folder(path)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            yield path


def camera(device: int | str, *, max_frames: int | None = None, fps_limit: float | None = None) -> Iterator[Frame]:
    """Frames from a camera: an index ("0" counts as 0), or a URL or file OpenCV can open (rtsp, http).

    ``fps_limit`` drops frames that come sooner than 1/fps_limit seconds after the last one yielded,
    so the frames handed on are always fresh. The capture is released when the iterator is closed.
    """
    if isinstance(device, str) and device.isdigit():
        device = int(device)
    return _capture(device, f"camera {device}", f"camera:{device}", max_frames=max_frames, fps_limit=fps_limit)


def video(path: Path | str, *, every: int = 1) -> Iterator[Frame]:
    """Frames from a video file: frame 0, then every ``every``-th frame; origins are "path#index"."""
    if every < 1:
        raise ValueError(f"every must be 1 or more, not {every}")
    if not Path(path).is_file():
        raise SourceError(str(path), f"{'not a file' if Path(path).exists() else 'no such file'}")
    return _capture(str(path), str(path), str(path), every=every)


def _capture(
    source: int | str,
    label: str,
    origin: str,
    *,
    every: int = 1,
    max_frames: int | None = None,
    fps_limit: float | None = None,
) -> Iterator[Frame]:
    """Open the capture now (so a bad source fails at once), then yield its frames from a generator."""
    if fps_limit is not None and fps_limit <= 0:
        raise ValueError(f"fps_limit must be above 0, not {fps_limit}")
    with _quiet_opencv():
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        reason = "no such device?" if isinstance(source, int) else "not a video or stream OpenCV can open"
        raise SourceError(label, f"cannot open ({reason})")
    return _frames(capture, label, origin, every, max_frames, 1 / fps_limit if fps_limit else 0.0)


def _frames(
    capture: cv2.VideoCapture, label: str, origin: str, every: int, max_frames: int | None, min_gap_s: float
) -> Iterator[Frame]:
    """The frames of an open capture, released when the generator ends or is closed."""
    try:
        index, yielded, last = 0, 0, float("-inf")
        while max_frames is None or yielded < max_frames:
            if not capture.grab():  # grab() without retrieve() skips the colour conversion of dropped frames
                if index == 0:
                    raise SourceError(str(label), "opened, but gave no frame")
                return
            now = time.monotonic()
            if index % every == 0 and now - last >= min_gap_s:
                ok, image = capture.retrieve()
                if ok:
                    yield Frame(f"{origin}#{index}", image)
                    yielded, last = yielded + 1, now
            index += 1
    finally:
        capture.release()


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Keep OpenCV's own warnings off stderr (they would tear a full-screen UI); SourceError says why."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)
