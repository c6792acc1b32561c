"""`provenance sync`: index the registry's events into the ledger.

The events carry everything needed (see the contract), so certificates minted
by other issuers or machines become findable here without calling views.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from .chain import ChainSession, OnChainLabel
from .chain.registry import issued_certificate
from .ipfs import raw_cid_from_sha256
from .ledger import CertificateRow, Ledger
from .records import record_certificate

CHUNK_BLOCKS = 5_000


@dataclass(frozen=True)
class SyncResult:
    from_block: int
    to_block: int
    events: int
    certificates: int

    def to_dict(self) -> dict:
        return vars(self).copy()


def sync(chain: ChainSession, ledger: Ledger, on_chunk=None) -> SyncResult:
    chain_id, contract = chain.deployment.chain_id, chain.deployment.address
    head = chain.w3.eth.block_number
    with ledger.session() as s:
        start = ledger.next_block(s, chain_id, contract, chain.deployment.deploy_block)
    first, added, touched = start, 0, set()
    while start <= head:
        end = min(head, start + CHUNK_BLOCKS - 1)
        events = chain.registry.events(start, end)
        with ledger.session() as s, s.begin():
            added += ledger.add_events(s, chain_id, contract, [_event_row(e) for e in events])
            for event in events:
                token = _apply(ledger, s, chain_id, contract, event)
                if token:
                    touched.add(token)
            ledger.set_next_block(s, chain_id, contract, end + 1)
        if on_chunk:
            on_chunk(end - first + 1, head - first + 1)
        start = end + 1
    return SyncResult(from_block=first, to_block=head, events=added, certificates=len(touched))


def _event_row(event) -> dict:
    return {
        "block_number": event.block_number,
        "log_index": event.log_index,
        "tx_hash": event.tx_hash,
        "name": event.name,
        "args_json": json.dumps({k: _jsonable(v) for k, v in event.args.items()}, sort_keys=True),
    }


def _jsonable(value):
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and value > 2**53:
        return hex(value)
    return value


def _apply(ledger: Ledger, s, chain_id: int, contract: str, event) -> str | None:
    args = event.args
    if "tokenId" not in args:
        return None
    content = f"{args['tokenId']:064x}"
    if event.name == "CertificateIssued":
        # Not looked up here: record_certificate finds the row itself (to insert or update it), at the same point
        # of the transaction, so a lookup here would be a second query per mint whose answer goes unused.
        record_certificate(
            ledger, s, chain_id, contract, issued_certificate(args), tx_hash=event.tx_hash, block_number=event.block_number,
            phash=f"{args['phash']:016x}", pdq=bytes(args["pdq"]).hex(),
        )
        s.flush()
        return content
    row = s.scalar(
        select(CertificateRow).where(
            CertificateRow.chain_id == chain_id, CertificateRow.contract == contract, CertificateRow.content_sha256 == content
        )
    )
    if row is None:
        return None
    if event.name == "CertificateRevoked":
        row.revoked, row.revoke_reason = True, args["reason"]
    elif event.name == "CertificateReattested":
        digest = bytes(args["metadataDigest"])
        row.metadata_digest, row.metadata_cid = digest.hex(), raw_cid_from_sha256(digest)
        row.label, row.score_bps = OnChainLabel(args["label"]).text, args["scoreBps"]
    elif event.name == "Transfer":
        row.owner = args["to"]
    return content
