"""The report page for a video: the frames behind the detector score are shown, as pictures."""

from __future__ import annotations

import av
import numpy as np

from provenance.certify import Certifier, CertifyOptions
from provenance.media import load_media
from provenance.scanning import DetectorScanner
from provenance.server.render import build_view, environment, render_page
from provenance.server.service import VerificationService
from scripts.make_samples import scene


def make_clip(path, frames: int = 30) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(frames):
            picture = av.VideoFrame.from_ndarray(np.asarray(scene(seed=i // 10, size=(320, 240))), format="rgb24")
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_video_report_shows_the_frames_behind_the_score(parts, tmp_path):
    clip = tmp_path / "clip.mp4"
    make_clip(clip)
    (minted,) = Certifier(parts.chain, parts.store, parts.ledger, DetectorScanner()).certify([clip], CertifyOptions())
    assert minted.error is None, minted.error
    service = VerificationService(parts.settings, parts)
    report = service.verify_file(clip, "clip.mp4")
    view = build_view(report, clip, service)
    assert view.status == "verified" and view.detection is not None
    sampled = {frame.index for frame in load_media(clip).sample}
    behind = [f for f in view.detection.frames if f in sampled]
    assert behind, view.detection.frames
    assert [t.caption for t in view.frames] == [f"frame {i}" for i in sorted(behind)]
    html = render_page(environment(), [view], standalone=True)
    assert "frames behind the score: " + ", ".join(map(str, view.detection.frames)) in html
    assert html.count('alt="frame ') == len(behind)
