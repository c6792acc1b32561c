"""Every verification status, each produced by a real manipulation against real parts."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from eth_account import Account
from PIL import Image, ImageDraw

from provenance.chain import Registry, deploy, open_web3
from provenance.chain.keys import dev_account
from provenance.chain_admin import chain_config
from provenance.context import open_parts
from provenance.ipfs.cid import parse_cid
from provenance.verify import Status
from provenance.verify.verifier import Verifier

from .conftest import edited, make_photo


def verify(parts, path, token=None):
    return Verifier(parts).verify(path, token)


def test_exact_copy_is_verified(parts, certify, photo):
    (result,) = certify(photo)
    assert result.error is None and result.token_id == "0x" + result.content_sha256
    report = verify(parts, photo)
    assert report.status is Status.VERIFIED, report.to_dict()
    assert report.candidates[0].found_by == "content_hash"
    assert [c.name for c in report.checks if c.passed][-1] == "content_match"


@pytest.mark.parametrize(
    "name, edit",
    [
        ("reencoded.jpg", lambda im: im),
        ("resized.png", lambda im: im.resize((im.width // 2, im.height // 2), Image.LANCZOS)),
        ("cropped.png", lambda im: im.crop((int(im.width * 0.03), int(im.height * 0.03), im.width, im.height))),
        ("mirrored.png", lambda im: im.transpose(Image.FLIP_LEFT_RIGHT)),
        ("edited.png", lambda im: (ImageDraw.Draw(im).rectangle((40, 40, 90, 80), fill=(255, 0, 0)), im)[1]),
    ],
)
def test_modified_copies_are_found_perceptually(parts, certify, photo, tmp_path, name, edit):
    certify(photo)
    copy = edited(photo, tmp_path / name, edit)
    report = verify(parts, copy)
    assert report.status is Status.MODIFIED, report.to_dict()
    assert report.candidates[0].found_by == "perceptual"
    assert report.match["kind"] == "perceptual" and report.match["distance"] <= report.match["threshold"]
    assert "never as 'verified'" in report.caveat


def test_unrelated_file_is_not_found(parts, certify, photo, tmp_path):
    certify(photo)
    other = make_photo(tmp_path / "other.png", seed=999)
    assert verify(parts, other).status is Status.NOT_FOUND


def test_unrelated_file_against_explicit_token_is_not_found(parts, certify, photo, tmp_path):
    (result,) = certify(photo)
    other = make_photo(tmp_path / "other.png", seed=998)
    report = verify(parts, other, int(result.token_id, 16))
    assert report.status is Status.NOT_FOUND
    assert report.checks[-1].name == "content_match"


def test_metadata_replaced_in_store_is_tampered(parts, certify, photo):
    (result,) = certify(photo)
    block = parts.store.blocks._path(parse_cid(result.metadata_cid).multihash)
    doc = json.loads(block.read_bytes())
    doc["provenance"]["detection"]["label"] = "likely_authentic"
    doc["description"] = "edited after the fact"
    block.write_bytes(json.dumps(doc).encode())
    report = verify(parts, photo)
    assert report.status is Status.TAMPERED
    failed = [c for c in report.checks if not c.passed]
    assert failed[0].name == "metadata_integrity" and result.metadata_cid in failed[0].reason


def test_revoked_certificate(parts, certify, photo):
    (result,) = certify(photo)
    parts.chain.registry.revoke(int(result.token_id, 16), "issued in error")
    report = verify(parts, photo)
    assert report.status is Status.REVOKED
    assert report.certificate["revoked"] is True


def test_issuer_without_role_any_more_is_untrusted(parts, certify, photo, admin):
    certify(photo)
    admin.revoke_issuer(dev_account().address)
    assert verify(parts, photo).status is Status.UNTRUSTED_ISSUER
    trusting = open_parts(replace(parts.settings, trusted_issuers=(dev_account().address,)))
    assert verify(trusting, photo).status is Status.VERIFIED


def test_mint_from_address_without_role_fails_cleanly(parts, photo):
    outsider = Account.create()
    parts.chain.w3.eth.send_transaction({"from": dev_account().address, "to": outsider.address, "value": 10**18})
    registry = Registry(parts.chain.w3, parts.chain.deployment.address, outsider)
    from provenance.certify import Certifier, CertifyOptions
    from provenance.scanning import NoScanner

    parts.chain.registry = registry
    (result,) = Certifier(parts.chain, parts.store, parts.ledger, NoScanner()).certify([photo], CertifyOptions())
    assert "AccessControlUnauthorizedAccount" in result.error
    assert registry.token_of_content(bytes.fromhex(result.content_sha256)) is None


def test_other_deployment_does_not_know_the_certificate(parts, certify, photo, anvil):
    certify(photo)
    w3 = open_web3(anvil.url)
    other = deploy(chain_config(parts.settings), w3, anvil.url, dev_account())  # records B for this chain
    parts_b = open_parts(parts.settings)
    assert parts_b.chain.deployment.address == other.deployment.address
    assert verify(parts_b, photo).status is Status.NOT_FOUND


def test_certificate_copied_to_another_deployment_is_tampered(parts, certify, photo, anvil):
    """Same content and metadata minted on another registry: the signature binds the original."""
    (result,) = certify(photo)
    original = parts.chain.registry.certificate(int(result.token_id, 16))
    w3 = open_web3(anvil.url)
    other = deploy(chain_config(parts.settings), w3, anvil.url, dev_account())
    from provenance.chain import MintRequest, OnChainLabel

    other.registry.mint(
        dev_account().address, [MintRequest(original.content_hash, original.metadata_digest, OnChainLabel.UNSCANNED, 0, 0, b"\0" * 32)]
    )
    report = verify(open_parts(parts.settings), photo)
    assert report.status is Status.TAMPERED
    assert any(c.name == "issuer_signature" and not c.passed for c in report.checks)


def test_duplicate_certify_is_idempotent(parts, certify, photo):
    (first,) = certify(photo)
    (second,) = certify(photo)
    assert second.error is None and second.already and second.token_id == first.token_id
    issued = [e for e in parts.chain.registry.events(0) if e.name == "CertificateIssued"]
    assert len(issued) == 1
