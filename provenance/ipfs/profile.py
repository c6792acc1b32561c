"""The UnixFS import profile recorded with every CID this project produces."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from provenance.ipfs.errors import IpfsError

DEFAULT_CHUNK_SIZE = 262144
DEFAULT_MAX_LINKS = 174


@dataclass(frozen=True)
class ImportProfile:
    cid_version: int
    raw_leaves: bool
    chunker: str = f"size-{DEFAULT_CHUNK_SIZE}"
    layout: str = "balanced"
    max_links: int = DEFAULT_MAX_LINKS
    hash: str = "sha2-256"

    def __post_init__(self) -> None:
        if self.cid_version not in (0, 1):
            raise IpfsError(f"cid_version must be 0 or 1, got {self.cid_version!r}")
        if self.cid_version == 0 and self.raw_leaves:
            raise IpfsError("CIDv0 cannot have raw leaves")
        if self.layout != "balanced" or self.hash != "sha2-256":
            raise IpfsError("only the balanced layout with sha2-256 is supported")
        if self.max_links < 2:
            raise IpfsError("max_links must be at least 2")
        _ = self.chunk_size  # validates the chunker string

    @property
    def chunk_size(self) -> int:
        prefix, _, size = self.chunker.partition("-")
        if prefix != "size" or not size.isdigit() or not 0 < int(size) <= 1 << 20:
            raise IpfsError(f"unsupported chunker {self.chunker!r} (expected size-N, N <= 1048576)")
        return int(size)

    @classmethod
    def for_version(cls, cid_version: int) -> "ImportProfile":
        """Kubo's defaults: CIDv0 with dag-pb leaves, CIDv1 with raw leaves."""
        return cls(cid_version=cid_version, raw_leaves=cid_version == 1)

    def to_dict(self) -> dict:
        return asdict(self)
