"""Frame sources over real files: images written with OpenCV and Pillow, a video written with OpenCV."""

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pos_sim.scan.frames import Frame, SourceError, camera, image_file, images, video

SHADES = [0, 60, 120, 180, 240]  # one grey level per video frame; MJPG keeps them within a few levels


def solid(shade: int, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    return np.full((*size, 3), shade, np.uint8)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real MJPG .avi with one solid grey frame per shade."""
    path = tmp_path_factory.mktemp("video") / "door.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    for shade in SHADES:
        writer.write(solid(shade))
    writer.release()
    return path


def shade_of(frame: Frame) -> int:
    return round(float(frame.image.mean()))


def assert_shades(frames: list[Frame], shades: list[int]) -> None:
    assert [shade_of(f) for f in frames] == pytest.approx(shades, abs=4)


# --- image files ---------------------------------------------------------------------------------


def test_png_written_by_opencv_reads_back_as_bgr(tmp_path: Path) -> None:
    image = solid(0)
    image[:, :, 2] = 200  # red, in BGR
    cv2.imwrite(str(tmp_path / "red.png"), image)
    frame = image_file(tmp_path / "red.png")
    assert frame.origin == str(tmp_path / "red.png")
    assert frame.image.dtype == np.uint8
    assert np.array_equal(frame.image, image)


def test_jpeg_written_by_pillow_reads_back_as_bgr(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30), (0, 0, 220)).save(tmp_path / "blue.jpg", quality=95)
    b, g, r = (round(float(c)) for c in image_file(str(tmp_path / "blue.jpg")).image.mean(axis=(0, 1)))
    assert b > 200 and g < 20 and r < 20


def test_float_tiff_opencv_cannot_read_is_read_by_pillow_with_its_range_stretched(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (16, 1))
    Image.fromarray(ramp, mode="F").save(tmp_path / "ramp.tif")
    assert cv2.imread(str(tmp_path / "ramp.tif"), cv2.IMREAD_COLOR) is None  # the fallback is needed
    image = image_file(tmp_path / "ramp.tif").image
    assert image.dtype == np.uint8 and image.shape == (16, 64)
    assert image[0, 0] == 0 and image[0, -1] == 255


def png(width: int, height: int) -> bytes:
    """A PNG file that claims ``width`` x ``height`` pixels, with one tiny data chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),
        ("notes.txt", b"shopping list\n"),
        ("empty.png", b""),
        ("huge.png", png(100_000, 100_000)),  # over OpenCV's pixel limit, and a decompression bomb to Pillow
    ],
)
def test_a_file_that_is_not_an_image_is_a_source_error_naming_it(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(SourceError) as caught:
        image_file(tmp_path / name)
    assert str(caught.value) == f"{tmp_path / name}: not an image (neither OpenCV nor Pillow could read it)"


def test_a_missing_file_is_a_source_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        image_file(tmp_path / "gone.png")
    assert str(caught.value) == f"{tmp_path}/gone.png: cannot read (No such file or directory)"


# --- batches of files and folders ----------------------------------------------------------------


@pytest.fixture
def shelf(tmp_path: Path) -> Path:
    """A folder of images with a nested folder, a hidden file and folder, a non-image and a corrupt png."""
    cv2.imwrite(str(tmp_path / "b.png"), solid(20))
    Image.new("RGB", (8, 8), (40, 40, 40)).save(tmp_path / "a.JPG")
    (tmp_path / "aisle").mkdir()
    cv2.imwrite(str(tmp_path / "aisle" / "c.bmp"), solid(60))
    Image.new("RGB", (8, 8), (80, 80, 80)).save(tmp_path / "aisle" / "d.gif")
    (tmp_path / ".cache").mkdir()
    cv2.imwrite(str(tmp_path / ".cache" / "e.png"), solid(100))
    cv2.imwrite(str(tmp_path / ".f.png"), solid(100))
    (tmp_path / "readme.txt").write_text("not an image")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return tmp_path


def test_a_folder_gives_its_images_sorted_and_recursive_and_reports_the_corrupt_one(shelf: Path) -> None:
    results = list(images([shelf]))
    errors = [r for r in results if isinstance(r, SourceError)]
    frames = [r for r in results if isinstance(r, Frame)]
    assert [str(e) for e in errors] == [f"{shelf}/corrupt.png: not an image (neither OpenCV nor Pillow could read it)"]
    assert [f.origin for f in frames] == [f"{shelf}/{n}" for n in ("a.JPG", "aisle/c.bmp", "aisle/d.gif", "b.png")]
    assert [shade_of(f) for f in frames] == [40, 60, 80, 20]


def test_files_and_folders_in_a_batch_keep_their_order_and_errors_do_not_stop_it(shelf: Path) -> None:
    given = [shelf / "b.png", shelf / "missing.png", shelf / "readme.txt", shelf / "aisle"]
    results = [r.origin if isinstance(r, Frame) else str(r) for r in images(given)]
    assert results == [
        f"{shelf}/b.png",
        f"{shelf}/missing.png: no such file or folder",
        f"{shelf}/readme.txt: not an image (neither OpenCV nor Pillow could read it)",
        f"{shelf}/aisle/c.bmp",
        f"{shelf}/aisle/d.gif",
    ]


# --- video and camera ----------------------------------------------------------------------------


def test_video_yields_every_frame_in_order(clip: Path) -> None:
    frames = list(video(clip))
    assert [f.origin for f in frames] == [f"{clip}#{i}" for i in range(len(SHADES))]
    assert all(f.image.shape == (48, 64, 3) for f in frames)
    assert_shades(frames, SHADES)


def test_video_every_other_frame_keeps_the_frame_numbers(clip: Path) -> None:
    frames = list(video(str(clip), every=2))
    assert [f.origin for f in frames] == [f"{clip}#0", f"{clip}#2", f"{clip}#4"]
    assert_shades(frames, SHADES[::2])


def test_camera_opens_a_video_file_like_a_stream(clip: Path) -> None:
    frames = list(camera(str(clip)))
    assert [f.origin for f in frames] == [f"camera:{clip}#{i}" for i in range(len(SHADES))]
    assert_shades(frames, SHADES)


def test_camera_stops_at_max_frames_and_releases_the_capture_when_closed(clip: Path) -> None:
    stream = camera(str(clip), max_frames=2)
    assert_shades(list(stream), SHADES[:2])
    stream = camera(str(clip))
    next(stream)
    stream.close()
    with pytest.raises(StopIteration):
        next(stream)


def test_camera_fps_limit_drops_frames_that_come_too_soon(clip: Path) -> None:
    frames = list(camera(str(clip), fps_limit=0.001))  # one frame per 1000 s: only the first is fresh
    assert [f.origin for f in frames] == [f"camera:{clip}#0"]


def test_a_camera_that_is_not_there_is_a_source_error() -> None:
    with pytest.raises(SourceError, match=r"^camera 99: cannot open \(no such device\?\)$"):
        camera(99)
    with pytest.raises(SourceError, match=r"^camera 98: cannot open"):
        camera("98")


def test_video_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "fake.avi").write_text("this is not a video")
    empty = cv2.VideoWriter(str(tmp_path / "empty.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    empty.release()  # a real video file with no frame in it
    with pytest.raises(SourceError) as caught:
        list(video(tmp_path / "empty.avi"))
    assert str(caught.value) == f"{tmp_path}/empty.avi: opened, but gave no frame"
    for path, message in [
        (tmp_path / "none.avi", f"{tmp_path}/none.avi: no such file"),
        (tmp_path, f"{tmp_path}: not a file"),
        (tmp_path / "fake.avi", f"{tmp_path}/fake.avi: cannot open (not a video or stream OpenCV can open)"),
    ]:
        with pytest.raises(SourceError) as caught:
            video(path)
        assert str(caught.value) == message


def test_bad_arguments_are_refused(clip: Path) -> None:
    with pytest.raises(ValueError, match="every"):
        video(clip, every=0)
    with pytest.raises(ValueError, match="fps_limit"):
        camera(str(clip), fps_limit=0)
