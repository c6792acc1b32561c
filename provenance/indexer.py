"""`provenance sync`: index the registry's events into the ledger.

The events carry everything needed (see the contract), so certificates minted
by other issuers or machines become findable here without calling views.

The chain can take blocks back: a node killed before it saved its last blocks
(anvil saves its state every second), a reorganisation. So every indexed event
keeps its block's hash, and so does the last block indexed. Each sync first
asks the chain whether the last indexed block is still there with that hash
(one call when nothing changed); if not, it finds the first block the ledger
got from blocks the chain no longer has (a binary search over the indexed
blocks: a block that is still there means every block before it is), deletes
what it indexed from there on, settles the certificates those events touched
against the chain's views (gone ones leave the ledger and their confirmed mint
jobs go back to be sent again), and indexes again from that block.
`confirmations` keeps the newest blocks out of the index until that many
blocks sit on top of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from web3.exceptions import BlockNotFound

from .chain import ChainError, ChainSession, OnChainLabel
from .chain.registry import issued_certificate
from .ipfs import raw_cid_from_sha256
from .ledger import CertificateRow, Ledger
from .records import record_certificate

CHUNK_BLOCKS = 5_000
CHUNK_RETRIES = 5
# Events that write a whole certificate record: a mint, and a re-issue of a revoked certificate
# (whose earlier record the registry keeps in `history`).
_ISSUING = ("CertificateIssued", "CertificateReissued")


@dataclass(frozen=True)
class SyncResult:
    from_block: int
    to_block: int
    events: int
    certificates: int
    rewound_from: int | None = None  # the first block the chain had replaced, when it had
    dropped: int = 0  # certificates the chain no longer holds, removed from the ledger

    def to_dict(self) -> dict:
        return vars(self).copy()


def sync(chain: ChainSession, ledger: Ledger, on_chunk=None, confirmations: int = 0) -> SyncResult:
    """Index the deployment's events up to `confirmations` blocks below the head."""
    if confirmations < 0:
        raise ValueError("confirmations must not be negative")
    deployment = chain.deployment
    chain_id, contract = deployment.chain_id, deployment.address
    ledger.activate(deployment)
    w3 = chain.w3
    head = w3.eth.block_number
    safe = head - confirmations
    with ledger.session() as s:
        start, last_hash = ledger.sync_position(s, chain_id, contract, deployment.deploy_block)
        marks = ledger.synced_blocks(s, chain_id, contract, start)
    if last_hash is not None:
        marks.append((start - 1, last_hash))
    fork = _fork_point(w3, deployment.deploy_block, head, start, marks)
    dropped = 0
    if fork is not None:
        with ledger.session() as s, s.begin():
            touched = ledger.rewind(s, chain_id, contract, fork)
            dropped = _settle(chain, ledger, s, touched)
        start = fork
    first, added, touched, issued = start, 0, set(), set()
    while start <= safe:
        end = min(safe, start + CHUNK_BLOCKS - 1)
        events, end_hash = _read_chunk(chain, start, end)
        with ledger.session() as s, s.begin():
            added += ledger.add_events(s, chain_id, contract, [_event_row(e) for e in events])
            for event in events:
                token = _apply(ledger, s, chain_id, contract, event)
                if token:
                    touched.add(token)
                    if event.name in _ISSUING:
                        issued.add(token)
            ledger.set_sync_position(s, chain_id, contract, end + 1, end_hash)
        if on_chunk:
            on_chunk(end - first + 1, safe - first + 1)
        start = end + 1
    dropped += _drop_unbacked(chain, ledger, first, issued)
    return SyncResult(from_block=first, to_block=safe, events=added, certificates=len(touched), rewound_from=fork, dropped=dropped)


def _hash_at(w3, number: int) -> str | None:
    try:
        return w3.eth.get_block(number)["hash"].to_0x_hex()
    except BlockNotFound:
        return None


def _fork_point(w3, deploy_block: int, head: int, next_block: int, marks: list[tuple[int, str]]) -> int | None:
    """The first block whose indexed data the chain no longer has, or None when all of it stands.

    `marks`: (number, hash) of indexed blocks, ascending. A block the chain still has with the
    same hash vouches for every block before it, so a binary search finds the last one standing.
    """
    if not marks:
        # Nothing to compare (indexed before block hashes were kept): a chain shorter than the index is all we can see.
        return deploy_block if next_block > head + 1 else None

    def stands(i: int) -> bool:
        number, block_hash = marks[i]
        return number <= head and _hash_at(w3, number) == block_hash

    if stands(len(marks) - 1):
        return None
    low, high = -1, len(marks) - 1  # marks[high] is gone; marks[low] stands (-1: none does)
    while high - low > 1:
        middle = (low + high) // 2
        if stands(middle):
            low = middle
        else:
            high = middle
    return marks[low][0] + 1 if low >= 0 else deploy_block


def _read_chunk(chain: ChainSession, start: int, end: int):
    """The events of blocks start..end and the hash of block `end`, read while the chain held still."""
    for _ in range(CHUNK_RETRIES):
        before = _hash_at(chain.w3, end)
        events = chain.registry.events(start, end)
        if before is not None and _hash_at(chain.w3, end) == before:
            return events, before
    raise ChainError(f"blocks {start}..{end} kept changing while they were read: the chain is reorganising, sync again later")


def _settle(chain: ChainSession, ledger: Ledger, s, contents: set[str]) -> int:
    """Make these certificate rows say what the chain's views say; returns how many left the ledger."""
    deployment = chain.deployment
    dropped = 0
    for content in sorted(contents):
        cert = chain.registry.certificate(int(content, 16))
        if cert is None:
            dropped += ledger.drop_certificate(s, deployment.chain_id, deployment.address, content)
            continue
        row = s.scalar(
            select(CertificateRow).where(
                CertificateRow.deployment_id == ledger.deployment_id(s, deployment.chain_id, deployment.address),
                CertificateRow.content_sha256 == content,
            )
        )
        if row is None:
            continue  # its mint is indexed again from the fork on
        digest = cert.metadata_digest.hex()
        if row.metadata_digest != digest:
            row.metadata_digest, row.metadata_cid = digest, raw_cid_from_sha256(cert.metadata_digest)
        row.label, row.score_bps, row.owner, row.issuer = cert.label.text, cert.score_bps, cert.owner, cert.issuer
        row.revoked = cert.revoked
        if not cert.revoked:
            row.revoke_reason = None
    return dropped


def _drop_unbacked(chain: ChainSession, ledger: Ledger, first: int, issued: set[str]) -> int:
    """Rows a mint recorded at or after `first` that no indexed event backs: kept only if the chain holds the token.

    A mint records its certificate at once; if its block was then lost before this sync read it,
    no event ever comes for it, and only the chain can say it is gone.
    """
    deployment = chain.deployment
    with ledger.session() as s:
        rows = [r.content_sha256 for r in ledger.certificates_from(s, deployment.chain_id, deployment.address, first)]
    unbacked = [c for c in rows if c not in issued]
    if not unbacked:
        return 0
    found = chain.registry.tokens_of_contents([bytes.fromhex(c) for c in unbacked])
    gone = [c for c, token in zip(unbacked, found) if token is None]
    if not gone:
        return 0
    with ledger.session() as s, s.begin():
        return sum(ledger.drop_certificate(s, deployment.chain_id, deployment.address, c) for c in gone)


def _event_row(event) -> dict:
    return {
        "block_number": event.block_number,
        "block_hash": event.block_hash or None,
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
    if event.name in _ISSUING:
        # Not looked up here: record_certificate finds the row itself (to insert or update it), at the same point
        # of the transaction, so a lookup here would be a second query per mint whose answer goes unused.
        record_certificate(
            ledger,
            s,
            chain_id,
            contract,
            issued_certificate(args),
            tx_hash=event.tx_hash,
            block_number=event.block_number,
            phash=f"{args['phash']:016x}",
            pdq=bytes(args["pdq"]).hex(),
        )
        s.flush()
        return content
    row = s.scalar(
        select(CertificateRow).where(
            CertificateRow.deployment_id == ledger.deployment_id(s, chain_id, contract), CertificateRow.content_sha256 == content
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
