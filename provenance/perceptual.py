"""Perceptual hashes of loaded media, in the form the metadata and the chain carry."""

from __future__ import annotations

from .hashing import image_hashes
from .media import MediaFile


def perceptual_hashes(media: MediaFile) -> dict:
    """pHash and PDQ of the image, or of the first sampled frame plus every sampled frame for video."""
    # Only the plain orientation is certified; verify hashes the received
    # file's rotations and mirrors and compares them with it.
    first = image_hashes(media.first_frame, dihedral=False)
    out = {"phash": first.phash, "pdq": first.pdq, "pdq_quality": first.pdq_quality}
    if media.kind == "video":
        frames = [image_hashes(frame, dihedral=False) for frame in media.frames]
        out["frames"] = [{"phash": h.phash, "pdq": h.pdq, "pdq_quality": h.pdq_quality} for h in frames]
    return out
