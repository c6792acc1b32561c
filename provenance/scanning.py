"""The narrow door to the detectors: loaded media in, the verdict report as a dict out.

`detect` is imported only here and only when scanning is asked for, so the
certify pipeline and the chain code never load torch otherwise. The
detectors score the frames the media object already holds (`MediaFile.sample`,
decoded once by `provenance.media`): the pixels hashed into a certificate
are the pixels its verdict was computed on, and the file is not read again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import ProvenanceError
from .face_boxes import seen_size, to_content_pixels, upright_size
from .media import MediaFile, load_media

if TYPE_CHECKING:  # detect (and torch) only when a scan runs
    from detect.analyze import Analyzer

UNSCANNED = {"label": "unscanned", "score": 0.0, "threshold": 0.0, "detectors": [], "faces": 0, "frames": []}


class ScanError(ProvenanceError):
    """The detectors could not score the file."""


class Scanner(Protocol):
    def scan(self, media: MediaFile | Path) -> dict:
        """The verdict of loaded media (a path is loaded first, by `provenance.media`)."""
        ...


class NoScanner:
    """Certificates say `unscanned` when detection is turned off."""

    def scan(self, media: MediaFile | Path) -> dict:
        return dict(UNSCANNED)


class DetectorScanner:
    def __init__(self) -> None:
        self._analyzer: Analyzer | None = None

    def scan(self, media: MediaFile | Path) -> dict:
        from detect.analyze import AnalysisError, Analyzer

        if not isinstance(media, MediaFile):
            media = load_media(Path(media))
        if not media.sample:
            raise ScanError(f"{media.path}: no decoded frames to score (the media was let go of its pixels)")
        if self._analyzer is None:
            self._analyzer = Analyzer()
        try:
            if media.kind == "video":
                report = self._analyzer.analyze_frames(media.sample)
            else:
                report = self._analyzer.analyze_image(media.sample[0].decoded)
        except AnalysisError as exc:
            raise ScanError(f"{media.path}: detectors failed: {exc}") from None
        except Exception as exc:  # a detector bug must not stop the other files of a run
            raise ScanError(f"{media.path}: detector crashed ({type(exc).__name__}: {exc})") from exc
        return _rounded(report.to_dict(), media)


def _rounded(report: dict, media: MediaFile) -> dict:
    """Scores to 6 decimals: the metadata is hashed, so keep its floats short and stable.

    Face boxes go from the pixels the detectors saw to the content's own (see provenance.face_boxes).
    """
    out = dict(report)
    if "face_boxes" in out:
        out["face_boxes"] = to_content_pixels(out["face_boxes"], seen_size(media), upright_size(media))
    for key in ("score", "threshold"):
        out[key] = round(float(out[key]), 6)
    out["detectors"] = [{**d, "score": round(float(d["score"]), 6)} if d.get("score") is not None else d for d in out["detectors"]]
    return out
