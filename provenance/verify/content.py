"""How the received file compares with the certified content.

One comparison per verification, made once the metadata is known to be the
issuer's: the file is the certified bytes, a rendition the issuer signed (e.g.
the C2PA copy made at mint), or else only perceptually near, or not, to the
hashes in the metadata. `ContentMatch` judges the comparison; the report shows
it as its `match` section.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Union

from ..config import Thresholds
from ..hashing import ImageHashes, PerceptualMatch, best_match, image_hashes
from ..hashing.frames import FrameHash, VideoHashes, video_distance
from ..media import MediaFile
from ..metadata import signed_rendition


class QueryHashes:
    """Perceptual hashes of the received file, computed only if a step needs them (lookup or comparison)."""

    def __init__(self, media: MediaFile):
        self._media = media

    @cached_property
    def image(self) -> ImageHashes:  # first frame for video
        return image_hashes(self._media.first_frame)

    @cached_property
    def frames(self) -> list[ImageHashes]:
        return [image_hashes(f) for f in self._media.frames] if self._media.kind == "video" else []


@dataclass(frozen=True)
class Exact:
    """The file's sha256 is the certified content hash."""

    def section(self) -> dict:
        return {"kind": "exact"}


@dataclass(frozen=True)
class Rendition:
    """The file's sha256 is a rendition the issuer listed in the signed metadata."""

    entry: dict

    def section(self) -> dict:
        return {"kind": "rendition", **self.entry}


@dataclass(frozen=True)
class NearImage:
    """The closest of the image's perceptual comparisons (within its threshold or not)."""

    match: PerceptualMatch

    def section(self) -> dict:
        return {"kind": "perceptual", **self.match.to_dict()}


@dataclass(frozen=True)
class NearVideo:
    """The distance between the sampled frames' pHashes and the certified ones."""

    distance: float
    threshold: int

    @property
    def within_threshold(self) -> bool:
        return self.distance <= self.threshold

    def section(self) -> dict:
        return {"kind": "perceptual", "hash_kind": "phash_frames", "distance": self.distance, "threshold": self.threshold}


Comparison = Union[Exact, Rendition, NearImage, NearVideo]


def compare_content(media: MediaFile, query: QueryHashes, content_sha256: str, metadata: dict, thresholds: Thresholds) -> Comparison:
    """How `media` relates to the content `metadata` describes; `metadata` must already be verified (it is trusted here)."""
    if media.sha256 == content_sha256:
        return Exact()
    rendition = signed_rendition(metadata, media.sha256)
    if rendition is not None:
        return Rendition(rendition)
    perceptual = metadata["provenance"]["perceptual"]
    if media.kind == "video" and perceptual.get("frames"):
        return NearVideo(video_distance(_as_video(query.frames), _as_video(perceptual["frames"])), thresholds.phash)
    reference = ImageHashes(perceptual["phash"], perceptual["pdq"], perceptual.get("pdq_quality", 0), (), ())
    return NearImage(best_match(query.image, reference, thresholds.phash, thresholds.pdq))


def _as_video(frames: list) -> VideoHashes:
    """Sampled frame hashes as the hashing package's video value (times are not compared)."""
    rows = [f if isinstance(f, dict) else f.to_dict() for f in frames]
    return VideoHashes(0.0, tuple(FrameHash(0.0, r["phash"], r["pdq"], int(r.get("pdq_quality", 0))) for r in rows))
