"""Perceptual hashes of loaded media, in the form the metadata and the chain carry."""

from __future__ import annotations

from .hashing import image_hashes
from .media import MediaError, MediaFile


def perceptual_hashes(media: MediaFile) -> dict:
    """pHash and PDQ of the image, or of the first sampled frame plus every sampled frame for video.

    A failure while hashing is this file's `MediaError`, so one file never stops a run.
    """
    if not media.frames:
        raise MediaError(f"{media.path}: no decoded picture to hash")
    try:
        # Only the plain orientation is certified; verify hashes the received
        # file's rotations and mirrors and compares them with it.
        first = image_hashes(media.first_frame, dihedral=False)
        out = {"phash": first.phash, "pdq": first.pdq, "pdq_quality": first.pdq_quality}
        if media.kind == "video":
            frames = [image_hashes(frame, dihedral=False) for frame in media.frames]
            out["frames"] = [{"phash": h.phash, "pdq": h.pdq, "pdq_quality": h.pdq_quality} for h in frames]
    except MemoryError:
        raise MediaError(f"{media.path}: too large to hash in the memory available") from None
    except Exception as exc:  # a hashing failure on one file's pixels is that file's error
        reason = " ".join(str(exc).split())[:160]
        raise MediaError(f"{media.path}: cannot hash ({type(exc).__name__}: {reason})") from None
    return out
