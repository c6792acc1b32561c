"""Finding the certificate for a received file when no token id is given."""

from __future__ import annotations

from ..chain import ChainSession
from ..config import Settings
from ..hashing import ImageHashes, best_match
from ..indexer import sync
from ..ledger import Ledger
from ..media import MediaFile
from .checks import QueryHashes
from .report import Candidate

MAX_CANDIDATES = 5


def find_candidates(chain: ChainSession, ledger: Ledger, settings: Settings, media: MediaFile, query: "QueryHashes") -> list[Candidate]:
    exact = chain.registry.token_of_content(bytes.fromhex(media.sha256))
    if exact is not None:
        return [Candidate(token_id=f"0x{exact:064x}", found_by="content_hash", distance=0, hash_kind="sha256")]
    sync(chain, ledger)  # perceptual lookup reads the ledger's index of mint events
    rows = ledger.certificates(chain.deployment.chain_id, chain.deployment.address)
    found = []
    for row in rows:
        # PDQ quality is not in the event; it is 100 here so PDQ is compared, and
        # the full check against the metadata applies the quality rule later.
        reference = ImageHashes(row.phash, row.pdq, 100, (), ())
        match = best_match(query.image, reference, settings.thresholds.phash, settings.thresholds.pdq)
        if match.within_threshold:
            found.append(Candidate(token_id=f"0x{row.content_sha256}", found_by="perceptual", distance=match.distance, hash_kind=match.hash_kind))
    found.sort(key=lambda c: (c.distance, c.token_id))
    return found[:MAX_CANDIDATES]
