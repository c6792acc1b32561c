"""Match thresholds chosen by the robustness study, and what a match means.

The thresholds come from `bench/robustness.py` (results in
`bench/results/hashing.md`): the largest Hamming distance at which unrelated
real photos still did not collide, traded against recall on modified copies.
"""

from __future__ import annotations

DEFAULT_PHASH_THRESHOLD = 10
DEFAULT_PDQ_THRESHOLD = 70

# PDQ reports a quality 0..100 (gradient energy); Meta's guidance is that hashes
# of quality below 50 come from flat images and should not be trusted to match.
PDQ_MIN_QUALITY = 50

PERCEPTUAL_MATCH_CAVEAT = (
    "A perceptual-hash match means the received file looks like the certified one "
    "(a re-encoded, resized, cropped, rotated or otherwise edited copy of it), so it is "
    "reported as 'modified', never as 'verified'. It does not prove that the file is "
    "unaltered, that its content is authentic, or that it came from the certificate's "
    "issuer: small but meaningful edits (a changed face, text or detail) can keep the "
    "hash within the threshold, and perceptual hashes can be attacked on purpose, both "
    "to make an unrelated image collide with a certified one (gradient-based collision "
    "attacks) and to make an edited copy evade matching. Only an exact content hash "
    "(sha256) match together with a valid on-chain certificate proves identity."
)
