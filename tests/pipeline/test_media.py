"""Media loading by content: every supported format, and the video sampling."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from provenance.media import MediaError, load_media
from scripts.make_samples import scene

from .test_bad_inputs import _video


@pytest.mark.parametrize(
    "fmt, suffix, mime",
    [
        ("JPEG", ".jpg", "image/jpeg"),
        ("PNG", ".png", "image/png"),
        ("WEBP", ".webp", "image/webp"),
        ("GIF", ".gif", "image/gif"),
        ("TIFF", ".tif", "image/tiff"),
    ],
)
def test_images_of_every_supported_format(tmp_path, fmt, suffix, mime):
    path = tmp_path / f"x{suffix}"
    scene(seed=3, size=(160, 120)).save(path, format=fmt)
    media = load_media(path)
    assert (media.kind, media.mime, media.width, media.height) == ("image", mime, 160, 120)
    assert media.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert media.first_frame.mode == "RGB"


def test_type_comes_from_content_not_extension(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    scene(seed=4, size=(64, 48)).save(path, format="PNG")
    assert load_media(path).mime == "image/png"


def test_gif_uses_first_frame(tmp_path):
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert load_media(path).first_frame.getpixel((5, 5))[0] > 200


@pytest.mark.parametrize(
    "container, mime", [("mp4", "video/mp4"), ("mov", "video/quicktime"), ("webm", "video/webm"), ("avi", "video/x-msvideo")]
)
def test_videos_of_every_supported_container(tmp_path, container, mime):
    path = _video(tmp_path / f"clip.{container}", frames=40, codec="libvpx" if container == "webm" else "mpeg4")
    media = load_media(path)
    assert (media.kind, media.mime, media.width, media.height) == ("video", mime, 64, 48)
    assert media.frame_count == 40 and len(media.frames) == 16
    assert media.duration_s == pytest.approx(4.0, abs=0.2)


def test_truncated_video_is_refused(tmp_path):
    data = _video(tmp_path / "c.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError):
        load_media(cut)
