"""Match thresholds chosen by the robustness study, and what a match means.

The thresholds come from `bench/robustness.py` (results in
`bench/results/hashing_robustness.md`, collected in BENCHMARKS.md): on 36 real photos (630 unrelated pairs, compared
under the dihedral-minimum rule) the closest unrelated pair was 16 bits apart
for pHash and 96 for PDQ; each threshold is the largest distance more than
1/16 of the hash length below that. With either hash within its threshold:
JPEG q30-95, resize 0.25-2x, mirror, quarter turns, brightness/contrast, 2 %
crops and 1-degree rotation all match; 5 % crops (97 %), 3-degree rotation
(94 %) and screenshot-like copies (83 %) mostly; 10 % crops (44 %), 5-degree
rotation (47 %) and 5 % padding (33 %) often not; 20 % crops, 10 % padding
and 10-degree rotation almost never.
"""

from __future__ import annotations

DEFAULT_PHASH_THRESHOLD = 11
DEFAULT_PDQ_THRESHOLD = 79

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
