"""Finding the certificate for a received file when no token id is given."""

from __future__ import annotations

from ..chain import ChainSession
from ..config import Settings
from ..hashing import PDQ_MIN_QUALITY
from ..hashing.index import NearDuplicateIndex
from ..indexer import sync
from ..ledger import Ledger
from ..media import MediaFile
from ..records import index_key, split_index_key
from .content import QueryHashes
from .report import Candidate

MAX_CANDIDATES = 5


def find_candidates(
    chain: ChainSession,
    ledger: Ledger,
    settings: Settings,
    media: MediaFile,
    query: QueryHashes,
    hint: int | None = None,
    *,
    exact_read: bool = False,
    exact: int | None = None,
) -> list[Candidate]:
    """By exact content hash on chain; else the token the file's C2PA manifest names (`hint`, first when the chain
    holds it), then by perceptual hash in the ledger's near-duplicate index.

    `exact_read`: the caller already asked the registry for the file's content hash, and it answered `exact`.
    """
    if not exact_read:
        exact = chain.registry.token_of_content(bytes.fromhex(media.sha256))
    if exact is not None:
        return [Candidate(token_id=f"0x{exact:064x}", found_by="content_hash", distance=0, hash_kind="sha256")]
    # Only a hint: the checks then hold the file to what the issuer signed for that token (a rendition's sha256).
    named = chain.registry.token_of_content(hint.to_bytes(32, "big")) if hint else None
    if named is not None:
        first = Candidate(token_id=f"0x{named:064x}", found_by="c2pa_manifest")
        rest = [c for c in _perceptual(chain, ledger, settings, query) if c.token_id != first.token_id]
        return [first, *rest][:MAX_CANDIDATES]
    return _perceptual(chain, ledger, settings, query)


def _perceptual(chain: ChainSession, ledger: Ledger, settings: Settings, query: QueryHashes) -> list[Candidate]:
    sync(chain, ledger)  # the index is fed from the chain's mint events
    index = NearDuplicateIndex(ledger.engine, create_tables=False)
    prefix = index_key(chain.deployment.chain_id, chain.deployment.address, "")
    hashes = query.image
    best: dict[str, Candidate] = {}
    # Every dihedral variant of the received file, so rotated and mirrored copies are found.
    pdqs = hashes.pdq_dihedral if hashes.pdq_quality >= PDQ_MIN_QUALITY else ()
    # One lookup per kind for all variants: each stored hash comes back once, at its distance to the closest variant.
    found = index.query_variants(phashes=hashes.phash_dihedral or (hashes.phash,), radius=settings.thresholds.phash)
    if pdqs:
        found += index.query_variants(pdqs=pdqs, radius=settings.thresholds.pdq_lookup_radius)

    def score(c: Candidate) -> float:  # distance relative to its hash's threshold (a perceptual candidate has one)
        return (c.distance or 0) / max(1, settings.thresholds.phash if c.hash_kind == "phash" else settings.thresholds.pdq)

    for match in found:
        if not match.key.startswith(prefix):
            continue
        token = "0x" + split_index_key(match.key)[2]
        candidate = Candidate(token_id=token, found_by="perceptual", distance=match.distance, hash_kind=match.hash_kind)
        current = best.get(token)
        if current is None or score(candidate) < score(current):
            best[token] = candidate
    ranked = sorted(best.values(), key=lambda c: (score(c), c.token_id))
    return ranked[:MAX_CANDIDATES]
