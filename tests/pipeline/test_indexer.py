"""`sync` rebuilds the ledger from the registry's events: the same rows as the chain's views, once,
whether it is re-run, re-run from an earlier block, or re-run after a chunk failed half way."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import event, func, select

from provenance import indexer
from provenance.chain import MintRequest, OnChainLabel
from provenance.chain.keys import dev_account
from provenance.hashing.index import pdq_table, phash_table
from provenance.indexer import sync
from provenance.ledger.models import CertificateRow, ChainEvent, SyncState

STRANGER = "0x000000000000000000000000000000000000dEaD"


def _request(seed: bytes) -> MintRequest:
    return MintRequest(
        content_hash=hashlib.sha256(seed).digest(),
        metadata_digest=hashlib.sha256(b"meta:" + seed).digest(),
        label=OnChainLabel.LIKELY_AUTHENTIC,
        score_bps=1000 + len(seed),
        phash=int.from_bytes(hashlib.sha256(b"p" + seed).digest()[:8], "big"),
        pdq=hashlib.sha256(b"q" + seed).digest(),
    )


def _history(registry, seeds: list[bytes]) -> list[int]:
    """Mints (a batch and a single one), then a revocation, a re-attestation and a transfer."""
    tokens = list(registry.mint(dev_account().address, [_request(s) for s in seeds[:-1]]).token_ids)
    tokens += registry.mint(dev_account().address, [_request(seeds[-1])]).token_ids
    registry.revoke(tokens[0], "issued in error")
    registry.reattest(tokens[1], hashlib.sha256(b"new metadata").digest(), OnChainLabel.LIKELY_MANIPULATED, 9100)
    registry._transact(registry.contract.functions.transferFrom(dev_account().address, STRANGER, tokens[2]))
    return tokens


def _snapshot(ledger) -> tuple:
    with ledger.session() as s:
        certs = sorted(tuple(getattr(row, c.key) for c in CertificateRow.__table__.columns) for row in s.scalars(select(CertificateRow)))
        events = s.scalar(select(func.count()).select_from(ChainEvent))
        index = tuple(s.scalar(select(func.count()).select_from(t)) for t in (phash_table, pdq_table))
    return certs, events, index


def _check_against_chain(parts, tokens: list[int]) -> None:
    registry = parts.chain.registry
    rows = {int(r.content_sha256, 16): r for r in parts.ledger.certificates(parts.chain.deployment.chain_id, registry.address)}
    assert set(rows) == set(tokens)
    for token, row in rows.items():
        cert = registry.certificate(token)
        assert row.metadata_digest == cert.metadata_digest.hex()
        assert (row.owner, row.issuer, row.label, row.score_bps) == (cert.owner, cert.issuer, cert.label.text, cert.score_bps)
        assert (row.revoked, row.issued_at) == (cert.revoked, cert.issued_at)
    assert rows[tokens[0]].revoke_reason == "issued in error"
    assert rows[tokens[2]].owner == STRANGER


def test_sync_records_the_chain_once_however_often_it_runs(parts):
    registry = parts.chain.registry
    tokens = _history(registry, [b"a", b"b", b"c", b"d"])
    first = sync(parts.chain, parts.ledger)
    assert first.certificates == len(tokens)
    assert first.events == len(registry.events(parts.chain.deployment.deploy_block))
    _check_against_chain(parts, tokens)
    once = _snapshot(parts.ledger)
    assert once[2] == (len(tokens), len(tokens))

    again = sync(parts.chain, parts.ledger)
    assert (again.events, again.certificates) == (0, 0)
    assert _snapshot(parts.ledger) == once

    # As if the position had not been saved: every event is applied a second time.
    with parts.ledger.session() as s, s.begin():
        d = parts.chain.deployment
        state = s.get(SyncState, parts.ledger.deployment_id(s, d.chain_id, registry.address))
        state.next_block, state.last_block_hash = d.deploy_block, None
    replay = sync(parts.chain, parts.ledger)
    assert replay.events == 0 and replay.certificates == len(tokens)
    assert _snapshot(parts.ledger) == once


def test_a_chunk_that_fails_half_way_leaves_nothing_and_the_next_sync_does_it_all(parts, monkeypatch):
    registry = parts.chain.registry
    tokens = _history(registry, [b"e", b"f", b"g", b"h"])
    calls = []
    real = indexer.record_certificate

    def fails_on_the_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(indexer, "record_certificate", fails_on_the_third)
    with pytest.raises(RuntimeError, match="crash"):
        sync(parts.chain, parts.ledger)
    assert _snapshot(parts.ledger) == ([], 0, (0, 0))
    monkeypatch.undo()

    done = sync(parts.chain, parts.ledger)
    assert done.certificates == len(tokens)
    _check_against_chain(parts, tokens)


def test_each_token_event_looks_its_certificate_up_once(parts):
    """A mint's own lookup is the one record_certificate makes to insert or update the row."""
    registry = parts.chain.registry
    _history(registry, [b"i", b"j", b"k", b"l", b"m", b"n"])
    events = registry.events(parts.chain.deployment.deploy_block)
    token_events = sum("tokenId" in e.args for e in events)
    mints = sum(e.name == "CertificateIssued" for e in events)
    assert mints == 6 and token_events > mints

    lookups = []

    def count(conn, cursor, statement, parameters, context, executemany):
        text = " ".join(statement.split()).upper()
        if text.startswith("SELECT") and " FROM CERTIFICATES" in text:
            lookups.append(statement)

    event.listen(parts.ledger.engine, "before_cursor_execute", count)
    try:
        sync(parts.chain, parts.ledger)
    finally:
        event.remove(parts.ledger.engine, "before_cursor_execute", count)
    # Not one more per mint; one per sync finds rows that a mint recorded and no indexed event backs.
    assert len(lookups) == token_events + 1


def _rpc(w3, method: str, params: list | None = None):
    reply = w3.provider.make_request(method, params or [])
    assert "error" not in reply, reply
    return reply["result"]


def _event_count(parts) -> int:
    with parts.ledger.session() as s:
        did = parts.ledger.deployment_id(s, parts.chain.deployment.chain_id, parts.chain.registry.address)
        return s.scalar(select(func.count()).select_from(ChainEvent).where(ChainEvent.deployment_id == did))


def test_sync_forgets_blocks_the_chain_lost_and_indexes_what_replaced_them(parts):
    """A node that comes back without its newest blocks (killed before saving its state), then mints again."""
    registry, w3 = parts.chain.registry, parts.chain.w3
    kept = list(registry.mint(dev_account().address, [_request(b"kept")]).token_ids)
    snapshot = _rpc(w3, "evm_snapshot")
    lost = _history(registry, [b"lost1", b"lost2", b"lost3"])
    sync(parts.chain, parts.ledger)
    assert {int(r.content_sha256, 16) for r in parts.ledger.certificates(parts.chain.deployment.chain_id, registry.address)} == set(
        kept + lost
    )

    _rpc(w3, "evm_revert", [snapshot])
    # New blocks at the same heights as the lost ones, and fewer of them.
    replaced = list(registry.mint(dev_account().address, [_request(b"new1"), _request(b"new2")]).token_ids)
    result = sync(parts.chain, parts.ledger)
    assert result.rewound_from is not None and result.rewound_from <= w3.eth.block_number
    assert result.dropped == len(lost)
    rows = {int(r.content_sha256, 16): r for r in parts.ledger.certificates(parts.chain.deployment.chain_id, registry.address)}
    assert set(rows) == set(kept + replaced)
    for token, row in rows.items():
        assert row.metadata_digest == registry.certificate(token).metadata_digest.hex()
    assert _event_count(parts) == len(registry.events(parts.chain.deployment.deploy_block))
    # And the near-duplicate index forgot the lost ones.
    with parts.ledger.session() as s:
        assert s.scalar(select(func.count()).select_from(phash_table)) == len(kept + replaced)


@pytest.fixture
def reorg_parts(tmp_path, home, monkeypatch):
    """Parts on an anvil of their own that keeps recent states, which anvil_reorg needs."""
    from provenance.chain import EphemeralNode, deploy, open_web3
    from provenance.chain.node import DEV_PRIVATE_KEY
    from provenance.chain_admin import chain_config
    from provenance.config import load_settings
    from provenance.context import open_parts

    with EphemeralNode(tmp_path, keep_states=64) as node:
        monkeypatch.setenv("PROVENANCE_RPC_URL", node.url)
        monkeypatch.setenv("PROVENANCE_PRIVATE_KEY", DEV_PRIVATE_KEY)
        settings = load_settings()
        deploy(chain_config(settings), open_web3(node.url), node.url, dev_account())
        yield open_parts(settings, signer=True)


def test_sync_follows_a_reorganisation(reorg_parts):
    """anvil_reorg replaces the newest blocks: what they held leaves the ledger, what a revoke changed is undone."""
    parts = reorg_parts
    registry, w3 = parts.chain.registry, parts.chain.w3
    tokens = list(registry.mint(dev_account().address, [_request(b"r1"), _request(b"r2")]).token_ids)
    registry.revoke(tokens[0], "revoked in a block that will go")
    late = registry.mint(dev_account().address, [_request(b"r3")]).token_ids[0]
    sync(parts.chain, parts.ledger)
    head = w3.eth.block_number
    _rpc(w3, "anvil_reorg", [2, []])  # the revoke's block and the last mint's block, replaced by empty ones
    assert w3.eth.block_number == head
    assert registry.certificate(late) is None and registry.certificate(tokens[0]).revoked is False

    result = sync(parts.chain, parts.ledger)
    assert result.rewound_from == head - 1
    rows = {int(r.content_sha256, 16): r for r in parts.ledger.certificates(parts.chain.deployment.chain_id, registry.address)}
    assert set(rows) == set(tokens)
    assert rows[tokens[0]].revoked is False and rows[tokens[0]].revoke_reason is None
    assert _event_count(parts) == len(registry.events(parts.chain.deployment.deploy_block))
    # Nothing changed since: the next sync asks for one block hash and rewinds nothing.
    assert sync(parts.chain, parts.ledger).rewound_from is None


def test_sync_leaves_the_newest_blocks_until_they_have_confirmations(parts):
    registry, w3 = parts.chain.registry, parts.chain.w3
    tokens = [registry.mint(dev_account().address, [_request(bytes([65 + i]) * 3)]).token_ids[0] for i in range(3)]
    head = w3.eth.block_number
    held_back = sync(parts.chain, parts.ledger, confirmations=2)
    assert held_back.to_block == head - 2
    rows = {int(r.content_sha256, 16) for r in parts.ledger.certificates(parts.chain.deployment.chain_id, registry.address)}
    assert rows == {tokens[0]}
    _rpc(w3, "anvil_mine", [2])
    assert sync(parts.chain, parts.ledger, confirmations=2).to_block == head
    rows = {int(r.content_sha256, 16) for r in parts.ledger.certificates(parts.chain.deployment.chain_id, registry.address)}
    assert rows == set(tokens)


def test_a_registry_redeployed_at_the_same_address_is_another_deployment(anvil, home, monkeypatch):
    """A reset chain, the registry deployed again by the same key: same chain id, same address, other deploy block."""
    from provenance.chain import deploy, open_web3
    from provenance.chain.node import DEV_PRIVATE_KEY
    from provenance.chain_admin import chain_config
    from provenance.config import load_settings
    from provenance.context import open_parts

    monkeypatch.setenv("PROVENANCE_RPC_URL", anvil.url)
    monkeypatch.setenv("PROVENANCE_PRIVATE_KEY", DEV_PRIVATE_KEY)
    settings = load_settings()
    w3 = open_web3(anvil.url)
    snapshot = _rpc(w3, "evm_snapshot")
    old = deploy(chain_config(settings), w3, anvil.url, dev_account())
    first = open_parts(settings, signer=True)
    old_tokens = _history(first.chain.registry, [b"x1", b"x2", b"x3"])
    sync(first.chain, first.ledger)

    _rpc(w3, "evm_revert", [snapshot])
    _rpc(w3, "anvil_mine", [3])  # the new deploy block is another block
    new = deploy(chain_config(settings), w3, anvil.url, dev_account())
    assert new.deployment.address == old.deployment.address
    assert new.deployment.deploy_block != old.deployment.deploy_block
    second = open_parts(settings, signer=True)
    chain_id, address = new.deployment.chain_id, new.deployment.address
    assert second.ledger.certificates(chain_id, address) == []
    fresh = list(second.chain.registry.mint(dev_account().address, [_request(b"y1")]).token_ids)
    result = sync(second.chain, second.ledger)
    assert result.from_block == new.deployment.deploy_block
    assert {int(r.content_sha256, 16) for r in second.ledger.certificates(chain_id, address)} == set(fresh)
    assert len(second.ledger.certificates()) == len(old_tokens) + 1  # the old rows stay, under the old deployment


def test_confirmations_is_a_setting(tmp_path):
    from provenance.config import ConfigError, load_settings

    assert load_settings(tmp_path, environ={}).confirmations == 0
    assert load_settings(tmp_path, environ={"PROVENANCE_CONFIRMATIONS": "12"}).confirmations == 12
    with pytest.raises(ConfigError, match="confirmations"):
        load_settings(tmp_path, environ={"PROVENANCE_CONFIRMATIONS": "-1"})
