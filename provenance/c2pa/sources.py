"""IPTC digital source types (the vocabulary C2PA actions use for `digitalSourceType`).

Only the term after the last `/` is compared: manifests spell the namespace in
several ways (http or https, a stray leading space in some real files).
"""

from __future__ import annotations

IPTC_NS = "http://cv.iptc.org/newscodes/digitalsourcetype/"

# Declared as made, wholly or in part, by a generative model: shown beside the
# detector verdict, because the maker says so, whatever the detectors think.
# Not here: algorithmicMedia (made by a program without a trained model, e.g. a
# procedural gradient) and algorithmicallyEnhanced (a capture improved by an
# algorithm, e.g. noise reduction): neither declares generated content.
GENERATIVE = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "compositeSynthetic",  # a composite with at least one synthetic element
        "dataDrivenMedia",  # IPTC's earlier term for media made by a model derived from sampled content
    }
)

DIGITAL_CAPTURE = IPTC_NS + "digitalCapture"
TRAINED_ALGORITHMIC_MEDIA = IPTC_NS + "trainedAlgorithmicMedia"


def term(source_type: str) -> str:
    """The IPTC term of a `digitalSourceType` URI ('' for none)."""
    return source_type.strip().rstrip("/").rsplit("/", 1)[-1]


def is_generative(source_type: str | None) -> bool:
    return bool(source_type) and term(source_type) in GENERATIVE  # type: ignore[arg-type]
