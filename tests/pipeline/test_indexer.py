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
        certs = sorted(
            tuple(getattr(row, c.key) for c in CertificateRow.__table__.columns) for row in s.scalars(select(CertificateRow))
        )
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
        s.get(SyncState, (parts.chain.deployment.chain_id, registry.address)).next_block = parts.chain.deployment.deploy_block
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
    assert len(lookups) == token_events  # not one more per mint
