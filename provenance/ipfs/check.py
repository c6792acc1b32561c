"""`ipfs check`: are the certificates' CIDs present and intact in a store?"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from provenance.ipfs.cid import parse_cid
from provenance.ipfs.errors import BlockMismatch, InvalidBlock, InvalidCid, IpfsError, NotFound


@dataclass(frozen=True)
class CidStatus:
    cid: str
    status: str  # ok | missing | corrupt | invalid | error
    detail: str = ""


@dataclass(frozen=True)
class CheckReport:
    results: list[CidStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.results)

    @property
    def problems(self) -> list[CidStatus]:
        return [r for r in self.results if r.status != "ok"]

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": len(self.results),
            "problems": [vars(r) for r in self.problems],
            "results": [vars(r) for r in self.results],
        }


def check_cid(store, text: str) -> CidStatus:
    """Verify one CID's whole DAG in `store`, as a status rather than an exception."""
    try:
        parse_cid(text)
        store.verify(text)
        return CidStatus(text, "ok")
    except InvalidCid as exc:
        return CidStatus(text, "invalid", str(exc))
    except NotFound as exc:
        return CidStatus(text, "missing", str(exc))
    except (BlockMismatch, InvalidBlock) as exc:
        return CidStatus(text, "corrupt", str(exc))
    except IpfsError as exc:
        return CidStatus(text, "error", str(exc))


def check_cids(store, cids: Iterable[str]) -> CheckReport:
    """Verify each CID's whole DAG in `store`; report every problem rather than stop at the first."""
    return CheckReport([check_cid(store, text) for text in dict.fromkeys(c.strip() for c in cids if c.strip())])


@dataclass(frozen=True)
class CertificateCids:
    """The CIDs one certificate refers to; None where the ledger has not recorded one."""

    chain_id: int
    contract: str
    content_sha256: str
    media_cid: str | None
    metadata_cid: str | None


@dataclass(frozen=True)
class CertificateStatus:
    certificate: CertificateCids
    media: CidStatus | None  # None: no CID recorded, nothing to check
    metadata: CidStatus | None

    @property
    def ok(self) -> bool:
        return all(s.status == "ok" for s in (self.media, self.metadata) if s is not None)

    def problems(self) -> list[tuple[str, CidStatus]]:
        return [(role, s) for role, s in (("media", self.media), ("metadata", self.metadata)) if s and s.status != "ok"]

    def to_dict(self) -> dict:
        return {
            **vars(self.certificate),
            "ok": self.ok,
            "media": vars(self.media) if self.media else None,
            "metadata": vars(self.metadata) if self.metadata else None,
        }


@dataclass(frozen=True)
class CertificatesReport:
    results: list[CertificateStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def problems(self) -> list[dict]:
        """One entry per CID that is missing, corrupt or otherwise unusable, with its certificate."""
        return [
            {
                "content_sha256": r.certificate.content_sha256,
                "chain_id": r.certificate.chain_id,
                "contract": r.certificate.contract,
                "role": role,
                **vars(status),
            }
            for r in self.results
            for role, status in r.problems()
        ]

    def to_dict(self) -> dict:
        unrecorded = sum(1 for r in self.results for s in (r.media, r.metadata) if s is None)
        return {
            "ok": self.ok,
            "certificates": len(self.results),
            "unrecorded_cids": unrecorded,
            "problems": self.problems(),
            "results": [r.to_dict() for r in self.results],
        }


def check_certificates(store, certificates: Iterable[CertificateCids], progress: Callable[[int], None] | None = None) -> CertificatesReport:
    """Check the media and metadata CIDs of every certificate; each distinct CID is verified once."""
    seen: dict[str, CidStatus] = {}

    def status(cid: str | None) -> CidStatus | None:
        if cid is None:
            return None
        if cid not in seen:
            seen[cid] = check_cid(store, cid)
        return seen[cid]

    results = []
    for cert in certificates:
        results.append(CertificateStatus(cert, status(cert.media_cid), status(cert.metadata_cid)))
        if progress is not None:
            progress(1)
    return CertificatesReport(results)
