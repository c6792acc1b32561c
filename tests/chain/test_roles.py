"""Admin and issuer keys kept apart, what an admin may do to others' certificates, and re-issue after
revocation: the Python client against a real anvil node and the compiled registry (issue 16, findings 8-9)."""

from __future__ import annotations

import hashlib

import pytest
from eth_account import Account

from provenance.chain import ChainConfig, MintRequest, OnChainLabel, TransactionFailed, deploy, open_web3
from provenance.chain.errors import KeyError_
from provenance.chain.keys import (
    ADMIN_KEY,
    DEV_ADMIN_ADDRESS,
    ISSUER_KEY,
    create_keystore,
    dev_account,
    dev_admin_account,
    key_address,
    load_admin_signer,
)
from provenance.chain.node import DEV_ADDRESS
from provenance.chain.session import admin_registry

STRANGER = "0x000000000000000000000000000000000000dEaD"


def _request(seed: bytes, digest_seed: bytes = b"", label=OnChainLabel.LIKELY_AUTHENTIC, score=1234) -> MintRequest:
    return MintRequest(
        content_hash=hashlib.sha256(seed).digest(),
        metadata_digest=hashlib.sha256(b"meta:" + seed + digest_seed).digest(),
        label=label,
        score_bps=score,
        phash=int.from_bytes(hashlib.sha256(b"p" + seed).digest()[:8], "big"),
        pdq=hashlib.sha256(b"q" + seed).digest(),
    )


@pytest.fixture(scope="module")
def deployed(anvil, tmp_path_factory):
    config = ChainConfig(home=tmp_path_factory.mktemp("roles-home"), rpc_url=anvil.url)
    session = deploy(config, open_web3(anvil.url), anvil.url, dev_account())
    return config, session


@pytest.fixture(scope="module")
def admin(deployed):
    config, session = deployed
    return admin_registry(config, session)


def _failure(call) -> TransactionFailed:
    with pytest.raises(TransactionFailed) as err:
        call()
    return err.value


# ---- keys and roles ----------------------------------------------------------------------------


def test_deploy_makes_the_admin_and_the_issuer_two_accounts(deployed):
    _, session = deployed
    registry = session.registry
    assert registry.signer.address == DEV_ADDRESS  # the session sends as the issuer
    assert session.deployment.deployer == DEV_ADMIN_ADDRESS  # the admin key paid for the deployment
    assert registry.is_issuer(DEV_ADDRESS) and not registry.is_admin(DEV_ADDRESS)
    assert registry.is_admin(DEV_ADMIN_ADDRESS) and not registry.is_issuer(DEV_ADMIN_ADDRESS)
    assert registry.admins(session.deployment.deploy_block) == [DEV_ADMIN_ADDRESS]
    assert [(e.address, e.issuer_id, e.active) for e in registry.issuers()] == [(DEV_ADDRESS, 1, True)]


def test_one_account_is_never_both_admin_and_issuer(anvil, tmp_path, deployed, admin):
    config = ChainConfig(home=tmp_path, rpc_url=anvil.url)
    with pytest.raises(KeyError_, match="same account"):
        deploy(config, open_web3(anvil.url), anvil.url, dev_admin_account(), admin=dev_admin_account())
    assert config.book.get(open_web3(anvil.url).eth.chain_id) is None  # nothing deployed or recorded
    # And should a tool try anyway, the registry refuses it.
    refused = _failure(lambda: admin.grant_issuer(DEV_ADMIN_ADDRESS))
    assert refused.error_name == "RoleConflict"
    issuer_role_as_admin = _failure(lambda: admin._transact(admin.contract.functions.grantRole(b"\0" * 32, DEV_ADDRESS)))
    assert issuer_role_as_admin.error_name == "RoleConflict"


def test_the_issuer_key_cannot_manage_issuers(deployed):
    _, session = deployed
    refused = _failure(lambda: session.registry.grant_issuer(STRANGER))
    assert refused.error_name == "AccessControlUnauthorizedAccount"


def test_admin_grants_and_revokes_issuers_and_the_list_follows(deployed, admin):
    _, session = deployed
    newcomer = Account.create().address
    admin.grant_issuer(newcomer)
    listed = {e.address: e for e in session.registry.issuers()}
    assert listed[newcomer].active and listed[newcomer].issuer_id >= 2
    admin.revoke_issuer(newcomer)
    listed = {e.address: e for e in session.registry.issuers()}
    assert not listed[newcomer].active  # numbered for good, role gone
    assert listed[DEV_ADDRESS].active


def test_admin_revokes_anyones_certificate_with_a_reason_but_never_reattests(deployed, admin):
    _, session = deployed
    (token,) = session.registry.mint(STRANGER, [_request(b"abuse")]).token_ids
    new_digest = hashlib.sha256(b"admin's verdict").digest()
    refused = _failure(lambda: admin.reattest(token, new_digest, OnChainLabel.LIKELY_MANIPULATED, 9900))
    assert refused.error_name == "NotCertificateIssuer"
    assert session.registry.certificate(token).label == OnChainLabel.LIKELY_AUTHENTIC
    assert _failure(lambda: admin.revoke(token, "")).error_name == "EmptyReason"
    admin.revoke(token, "abuse: not the issuer's media")
    assert session.registry.certificate(token).revoked
    (note,) = session.registry.record_notes(token, session.deployment.deploy_block)
    assert (note.kind, note.by, note.reason) == ("revoked", DEV_ADMIN_ADDRESS, "abuse: not the issuer's media")


# ---- re-issue ----------------------------------------------------------------------------------


def test_revoked_content_is_reissued_only_after_the_admin_approves_it(deployed, admin):
    _, session = deployed
    registry = session.registry
    first = _request(b"squatted")
    (token,) = registry.mint(STRANGER, [first]).token_ids
    admin.revoke(token, "issued in error")
    again = _request(b"squatted", b"again", OnChainLabel.UNCERTAIN, 5000)

    refused = _failure(lambda: registry.reissue(DEV_ADDRESS, again))
    assert refused.error_name == "ReissueNotApproved" and refused.error_args[0] == token
    assert refused.error_args[1].lower() == DEV_ADDRESS.lower()
    assert _failure(lambda: registry.approve_reissue(token, DEV_ADDRESS, "mine")).error_name == "AccessControlUnauthorizedAccount"
    assert registry.reissue_approved_for(token) is None

    admin.approve_reissue(token, DEV_ADDRESS, "the right file is certified again")
    assert registry.reissue_approved_for(token) == DEV_ADDRESS
    outcome = registry.reissue(DEV_ADDRESS, again)
    assert outcome.token_ids == (token,)
    assert outcome.issued[0].metadata_digest == again.metadata_digest

    cert = registry.certificate(token)
    assert (cert.metadata_digest, cert.label, cert.score_bps) == (again.metadata_digest, OnChainLabel.UNCERTAIN, 5000)
    assert not cert.revoked and cert.owner == DEV_ADDRESS and cert.issuer == DEV_ADDRESS
    (past,) = registry.history(token)
    assert past.revoked and past.metadata_digest == first.metadata_digest and past.owner == STRANGER
    assert registry.reissue_approved_for(token) is None
    assert registry.mint_of(token, session.deployment.deploy_block) == (outcome.tx_hash, outcome.block_number)
    kinds = [(n.kind, n.reason) for n in registry.record_notes(token, session.deployment.deploy_block)]
    assert kinds == [("revoked", "issued in error"), ("reissue_approved", "the right file is certified again")]
    names = [e.name for e in registry.events(outcome.block_number, outcome.block_number)]
    assert names == ["Transfer", "Transfer", "CertificateReissued"]
    # The approval was for one re-issue.
    assert _failure(lambda: registry.reissue(DEV_ADDRESS, again)).error_name == "ReissueNotApproved"


def test_history_of_unknown_or_never_reissued_tokens_is_empty(deployed):
    _, session = deployed
    (token,) = session.registry.mint(STRANGER, [_request(b"plain")]).token_ids
    assert session.registry.history(token) == []
    assert session.registry.history(12345) == []


# ---- where the admin key comes from --------------------------------------------------------------


def test_admin_key_from_the_environment(monkeypatch):
    key = Account.create()
    monkeypatch.setenv("PROVENANCE_ADMIN_PRIVATE_KEY", key.key.hex())
    assert load_admin_signer("", allow_dev_key=False).address == key.address
    assert key_address(ADMIN_KEY, "", allow_dev_key=False) == key.address
    monkeypatch.setenv("PROVENANCE_ADMIN_PRIVATE_KEY", "0xnot-a-key")
    with pytest.raises(KeyError_, match="PROVENANCE_ADMIN_PRIVATE_KEY is not a valid private key") as err:
        load_admin_signer("", allow_dev_key=False)
    assert "0xnot-a-key" not in str(err.value)


def test_admin_keystore_has_its_own_password_and_its_address_is_read_without_one(tmp_path, monkeypatch):
    for name in ("PROVENANCE_ADMIN_PRIVATE_KEY", "PROVENANCE_ADMIN_KEYSTORE_PASSWORD", "PROVENANCE_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "admin.json"
    address = create_keystore(path, "admin secret")
    assert key_address(ADMIN_KEY, str(path), allow_dev_key=False) == address  # no password needed
    monkeypatch.setenv("PROVENANCE_KEYSTORE_PASSWORD", "admin secret")  # the issuer's variable is not the admin's
    with pytest.raises(KeyError_, match="PROVENANCE_ADMIN_KEYSTORE_PASSWORD"):
        load_admin_signer(str(path), allow_dev_key=False)
    monkeypatch.setenv("PROVENANCE_ADMIN_KEYSTORE_PASSWORD", "admin secret")
    assert load_admin_signer(str(path), allow_dev_key=False).address == address


def test_no_admin_key_off_a_local_chain_is_an_error_naming_where_to_put_one(monkeypatch):
    monkeypatch.delenv("PROVENANCE_ADMIN_PRIVATE_KEY", raising=False)
    with pytest.raises(KeyError_, match="no admin key: set PROVENANCE_ADMIN_PRIVATE_KEY, or `admin_keystore`"):
        load_admin_signer("", allow_dev_key=False)
    assert key_address(ADMIN_KEY, "", allow_dev_key=False) is None
    assert load_admin_signer("", allow_dev_key=True).address == DEV_ADMIN_ADDRESS
    monkeypatch.delenv("PROVENANCE_PRIVATE_KEY", raising=False)
    assert key_address(ISSUER_KEY, "", allow_dev_key=True) == DEV_ADDRESS
