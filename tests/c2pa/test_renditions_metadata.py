"""The optional `renditions` member of the certificate metadata (schema v1, backwards compatible)."""

from __future__ import annotations

import pytest

from provenance.metadata import MetadataError, MetadataInput, build, canonical_bytes, signed_rendition, validate

SHA = "ab" * 32
COPY = "cd" * 32


def _input(**extra) -> MetadataInput:
    return MetadataInput(
        name="photo.png",
        description="",
        media_cid="bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
        import_profile={"cid_version": 1},
        media={"mime": "image/png", "kind": "image", "size": 10, "width": 4, "height": 4, "sha256": SHA},
        perceptual={"phash": "0" * 16, "pdq": "0" * 64},
        detection={"label": "unscanned", "score": 0, "threshold": 0.5, "detectors": []},
        generator=None,
        issuer="0x" + "11" * 20,
        chain_id=31337,
        contract="0x" + "22" * 20,
        issued_at="2026-12-05T06:00:00Z",
        **extra,
    )


def test_documents_without_renditions_are_unchanged():
    doc = build(_input())
    assert "renditions" not in doc["provenance"]
    validate(doc)
    assert b"renditions" not in canonical_bytes(doc)  # same bytes, same digest as before the member existed


def test_rendition_is_signed_content():
    entry = {"sha256": COPY, "type": "c2pa", "mime": "image/png", "size": 12}
    doc = build(_input(renditions=(entry,)))
    validate(doc)
    assert doc["provenance"]["renditions"] == [entry]
    assert signed_rendition(doc, COPY) == entry
    assert signed_rendition(doc, SHA) is None and signed_rendition(None, COPY) is None


@pytest.mark.parametrize("bad", [{"sha256": "XY", "type": "c2pa"}, {"sha256": COPY}, "not an object"])
def test_malformed_renditions_do_not_fit_the_schema(bad):
    doc = build(_input())
    doc["provenance"]["renditions"] = [bad]
    with pytest.raises(MetadataError, match="renditions"):
        validate(doc)
