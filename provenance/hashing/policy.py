"""Match thresholds chosen by the robustness study, and what a match means.

The thresholds come from `bench/robustness.py` (results in
`bench/results/hashing.md`): on 36 real photos (630 unrelated pairs, compared
under the dihedral-minimum rule) the closest unrelated pair was 16 bits apart
for pHash and 96 for PDQ; each threshold sits 1/16 of the hash length below
that. At these values JPEG q30, resize 0.25-2x, 1-degree rotation, mirror,
brightness/contrast and 2-5 % crops all match; 10 % crops, 5-degree rotations
and screenshot-like copies match mostly; 20 % crops, 10 % padding and
10-degree rotations mostly do not.
"""

from __future__ import annotations

DEFAULT_PHASH_THRESHOLD = 12
DEFAULT_PDQ_THRESHOLD = 80

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
