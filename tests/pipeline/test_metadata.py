"""Certificate metadata: canonical bytes, the JSON Schema, and the issuer's EIP-712 signature."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest
from eth_account import Account

from provenance.metadata import (
    MetadataError,
    MetadataInput,
    SigningDomain,
    build,
    canonical_bytes,
    parse,
    recover_signer,
    sign,
    validate,
)

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _doc(kind="image", generator=None) -> dict:
    return build(
        MetadataInput(
            name="Sunset",
            description="é ✓",
            media_cid="bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
            import_profile={"cid_version": 1, "raw_leaves": True},
            media={
                "sha256": "ab" * 32,
                "mime": "image/png" if kind == "image" else "video/mp4",
                "kind": kind,
                "size": 10,
                "width": 4,
                "height": 3,
                **({"duration_s": 1.5, "frames": 30} if kind == "video" else {}),
            },
            perceptual={"phash": "0" * 16, "pdq": "f" * 64, "pdq_quality": 90},
            detection={
                "label": "uncertain",
                "score": 0.5,
                "threshold": 0.6,
                "detectors": [{"name": "spectral", "version": "1", "score": 0.5, "weights_sha256": "00"}],
            },
            generator=generator,
            issuer=Account.create().address,
            chain_id=31337,
            contract=CONTRACT,
            issued_at="2026-11-22T00:00:00Z",
        )
    )


def test_canonical_bytes_are_sorted_compact_utf8():
    raw = canonical_bytes({"b": 1, "a": "é"})
    assert raw == '{"a":"é","b":1}'.encode()


def test_document_is_erc721_metadata_and_fits_the_schema():
    doc = _doc()
    validate(doc)
    assert doc["image"].startswith("ipfs://") and "animation_url" not in doc
    traits = {a["trait_type"]: a for a in doc["attributes"]}
    assert traits["Manipulation score"]["display_type"] == "number"
    video = _doc("video", generator={"model": "stylegan2-ffhq", "prompt": "", "seed": 42})
    validate(video)
    assert video["animation_url"].startswith("ipfs://") and video["provenance"]["generator"]["seed"] == 42


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["provenance"].pop("issuer"),
        lambda d: d["provenance"]["content"].update(sha256="xyz"),
        lambda d: d["provenance"]["detection"].update(label="fine"),
        lambda d: d.pop("image"),
        lambda d: d["provenance"].update(extra=1),
    ],
)
def test_schema_rejects_broken_documents(mutate):
    doc = _doc()
    mutate(doc)
    with pytest.raises(MetadataError, match="schema"):
        validate(doc)


def test_signature_recovers_the_issuer_and_breaks_on_any_change():
    issuer = Account.create()
    doc = _doc()
    doc["provenance"]["issuer"] = issuer.address
    signed = sign(doc, issuer, SigningDomain(31337, CONTRACT))
    validate(signed)
    assert recover_signer(signed) == issuer.address
    parsed = parse(canonical_bytes(signed))
    assert recover_signer(parsed) == issuer.address
    changed = copy.deepcopy(signed)
    changed["provenance"]["detection"]["score"] = 0.01
    assert recover_signer(changed) != issuer.address
    moved = copy.deepcopy(signed)
    moved["provenance"]["signature"]["domain"]["chainId"] = 1
    assert recover_signer(moved) != issuer.address


def test_parse_rejects_non_json():
    with pytest.raises(MetadataError, match="not JSON"):
        parse(b"\xff\xfe")


def test_canonical_bytes_survive_a_parse_roundtrip():
    """The digest a verifier recomputes from fetched bytes equals the issuer's."""
    doc = _doc()
    raw = canonical_bytes(doc)
    assert hashlib.sha256(canonical_bytes(json.loads(raw))).digest() == hashlib.sha256(raw).digest()
