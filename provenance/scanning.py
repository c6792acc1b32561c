"""The narrow door to the detectors: a file in, the verdict report as a dict out.

`detect` is imported only here and only when scanning is asked for, so the
certify pipeline and the chain code never load torch otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from .errors import ProvenanceError

UNSCANNED = {"label": "unscanned", "score": 0.0, "threshold": 0.0, "detectors": [], "faces": 0, "frames": []}


class ScanError(ProvenanceError):
    """The detectors could not score the file."""


class Scanner(Protocol):
    def scan(self, path: Path) -> dict: ...


class NoScanner:
    """Certificates say `unscanned` when detection is turned off."""

    def scan(self, path: Path) -> dict:
        return dict(UNSCANNED)


class DetectorScanner:
    def __init__(self) -> None:
        self._analyzer = None

    def scan(self, path: Path) -> dict:
        from detect.analyze import AnalysisError, Analyzer

        if self._analyzer is None:
            self._analyzer = Analyzer()
        try:
            report = self._analyzer.analyze_file(path)
        except AnalysisError as exc:
            raise ScanError(f"{path}: detectors failed: {exc}") from None
        except Exception as exc:  # a detector bug must not stop the other files of a run
            raise ScanError(f"{path}: detector crashed ({type(exc).__name__}: {exc})") from exc
        return _rounded(report.to_dict())


def _rounded(report: dict) -> dict:
    """Scores to 6 decimals: the metadata is hashed, so keep its floats short and stable."""
    out = dict(report)
    for key in ("score", "threshold"):
        out[key] = round(float(out[key]), 6)
    out["detectors"] = [
        {**d, "score": round(float(d["score"]), 6)} if d.get("score") is not None else d for d in out["detectors"]
    ]
    return out
