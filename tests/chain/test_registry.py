"""The Python registry client against a real anvil node and the compiled contract."""

from __future__ import annotations

import hashlib

import pytest
from eth_account import Account

from provenance.chain import MintRequest, OnChainLabel, Registry, TransactionFailed, open_web3, token_id_of
from provenance.chain.keys import dev_account, dev_admin_account

STRANGER = "0x000000000000000000000000000000000000dEaD"


def _request(seed: bytes, label=OnChainLabel.LIKELY_AUTHENTIC, score=1234) -> MintRequest:
    return MintRequest(
        content_hash=hashlib.sha256(seed).digest(),
        metadata_digest=hashlib.sha256(b"meta:" + seed).digest(),
        label=label,
        score_bps=score,
        phash=int.from_bytes(hashlib.sha256(b"p" + seed).digest()[:8], "big"),
        pdq=hashlib.sha256(b"q" + seed).digest(),
    )


@pytest.fixture(scope="module")
def registry(anvil) -> Registry:
    w3 = open_web3(anvil.url)
    as_admin, _ = Registry.deploy(w3, dev_admin_account())  # the registry keeps admin and issuer apart
    as_admin.grant_issuer(dev_account().address)
    return as_admin.with_signer(dev_account())


def test_mint_binds_content_metadata_issuer_and_verdict(registry):
    req = _request(b"a")
    outcome = registry.mint(STRANGER, [req])
    assert outcome.token_ids == (token_id_of(req.content_hash),)
    cert = registry.certificate(outcome.token_ids[0])
    assert cert.content_hash == req.content_hash
    assert cert.metadata_digest == req.metadata_digest
    assert cert.issuer == dev_account().address
    assert cert.owner == STRANGER
    assert (cert.label, cert.score_bps, cert.revoked) == (OnChainLabel.LIKELY_AUTHENTIC, 1234, False)
    block_time = registry.w3.eth.get_block(outcome.block_number)["timestamp"]
    assert cert.issued_at == block_time
    assert registry.token_of_content(req.content_hash) == outcome.token_ids[0]


def test_token_uri_is_cid_of_metadata_digest(registry):
    req = MintRequest(hashlib.sha256(b"uri").digest(), hashlib.sha256(b"hello world").digest(), OnChainLabel.UNSCANNED, 0, 0, b"\0" * 32)
    (token,) = registry.mint(STRANGER, [req]).token_ids
    # Public Kubo vector: CIDv1 raw of "hello world".
    assert registry.token_uri(token) == "ipfs://bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


def test_second_mint_of_same_content_names_existing_token(registry):
    req = _request(b"dup")
    (token,) = registry.mint(STRANGER, [req]).token_ids
    with pytest.raises(TransactionFailed) as err:
        registry.mint(STRANGER, [_request(b"dup", score=9000)])
    assert err.value.error_name == "CertificateExists"
    assert err.value.error_args == (token,)
    assert registry.certificate(token).score_bps == 1234


def test_unknown_content_and_token(registry):
    assert registry.token_of_content(hashlib.sha256(b"never minted").digest()) is None
    assert registry.certificate(12345) is None


def test_batch_mint_in_one_transaction(registry):
    reqs = [_request(b"batch-%d" % i, score=i * 100) for i in range(12)]
    outcome = registry.mint(STRANGER, reqs)
    assert outcome.token_ids == tuple(token_id_of(r.content_hash) for r in reqs)
    assert [registry.certificate(t).score_bps for t in outcome.token_ids] == [i * 100 for i in range(12)]
    assert registry.contract.functions.balanceOf(STRANGER).call() >= 12


def test_batch_with_one_duplicate_mints_nothing(registry):
    existing = _request(b"batch-0")
    fresh = _request(b"batch-fresh")
    with pytest.raises(TransactionFailed):
        registry.mint(STRANGER, [fresh, existing])
    assert registry.token_of_content(fresh.content_hash) is None


def test_revoke_keeps_certificate_readable(registry):
    req = _request(b"revoke-me")
    (token,) = registry.mint(STRANGER, [req]).token_ids
    registry.revoke(token, "issued in error")
    cert = registry.certificate(token)
    assert cert.revoked and cert.content_hash == req.content_hash
    with pytest.raises(TransactionFailed) as err:
        registry.revoke(token, "again")
    assert err.value.error_name == "CertificateRevokedAlready"


def test_reattest_changes_verdict_and_digest(registry):
    req = _request(b"reattest")
    (token,) = registry.mint(STRANGER, [req]).token_ids
    new_digest = hashlib.sha256(b"new metadata").digest()
    registry.reattest(token, new_digest, OnChainLabel.LIKELY_MANIPULATED, 9100)
    cert = registry.certificate(token)
    assert (cert.metadata_digest, cert.label, cert.score_bps) == (new_digest, OnChainLabel.LIKELY_MANIPULATED, 9100)
    names = [e.name for e in registry.events(registry.w3.eth.block_number)]
    assert names == ["CertificateReattested", "MetadataUpdate"]


def test_account_without_role_cannot_mint(registry):
    outsider = Account.create()
    registry.w3.eth.send_transaction({"from": dev_account().address, "to": outsider.address, "value": 10**18})
    as_outsider = Registry(registry.w3, registry.address, outsider)
    with pytest.raises(TransactionFailed) as err:
        as_outsider.mint(outsider.address, [_request(b"outsider")])
    assert err.value.error_name == "AccessControlUnauthorizedAccount"
    assert not registry.is_issuer(outsider.address)


def test_events_rebuild_the_registry(registry):
    """An indexer that reads only events sees the same certificates as the views."""
    issued = {}
    revoked = set()
    for event in registry.events(0):
        if event.name == "CertificateIssued":
            issued[event.args["tokenId"]] = event.args
        elif event.name == "CertificateRevoked":
            revoked.add(event.args["tokenId"])
        elif event.name == "CertificateReattested":
            issued[event.args["tokenId"]] = {**issued[event.args["tokenId"]], **event.args}
    assert issued
    for token, args in issued.items():
        cert = registry.certificate(token)
        assert cert.metadata_digest == args["metadataDigest"]
        assert cert.score_bps == args["scoreBps"]
        assert cert.label == args["label"]
        assert cert.revoked == (token in revoked)
