"""`ipfs check`: are the certificates' CIDs present and intact in a store?"""

from __future__ import annotations

from collections.abc import Iterable
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


def check_cids(store, cids: Iterable[str]) -> CheckReport:
    """Verify each CID's whole DAG in `store`; report every problem rather than stop at the first."""
    results = []
    for text in dict.fromkeys(c.strip() for c in cids if c.strip()):
        try:
            parse_cid(text)
            store.verify(text)
            results.append(CidStatus(text, "ok"))
        except InvalidCid as exc:
            results.append(CidStatus(text, "invalid", str(exc)))
        except NotFound as exc:
            results.append(CidStatus(text, "missing", str(exc)))
        except (BlockMismatch, InvalidBlock) as exc:
            results.append(CidStatus(text, "corrupt", str(exc)))
        except IpfsError as exc:
            results.append(CidStatus(text, "error", str(exc)))
    return CheckReport(results)
