"""How much a read may produce and how long it may take, and a deadline to enforce it.

Every read of a DAG (`cat`, `iter_cat`, `verify`, on any store) takes a
`FetchLimits`; the defaults are bounded, so a caller that passes nothing is
still safe, and a caller that knows more (the metadata's size, the media's
size from signed metadata) passes tighter ones.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from provenance.ipfs.errors import DeadlineExceeded

# The largest media the service certifies (provenance.media.MAX_FILE_BYTES):
# no certificate can point at more, so no read needs to produce more by default.
MAX_CONTENT_BYTES = 4 * 1024**3

# The largest block a source may send: Kubo refuses blocks over 1 MiB unless
# told otherwise, and no importer here makes one over 1 MiB; 2 MiB leaves room.
MAX_BLOCK_BYTES = 2 * 1024**2

# Importers build shallow DAGs: balanced with 174 links is 3 levels deep at
# 4 GiB, trickle well under 20. Anything deeper is built to hurt a walker.
MAX_DEPTH = 64

# Importers link at most 174 (Kubo, js-ipfs) children per node. Together with
# the depth limit this bounds the nodes a file walk keeps pending.
MAX_LINKS = 4096


@dataclass(frozen=True)
class FetchLimits:
    """Bounds on one read. Every field has a safe default; tests pass small ones."""

    max_bytes: int = MAX_CONTENT_BYTES  # file bytes the read may produce; also refuses a root declaring more
    max_depth: int = MAX_DEPTH  # links from the root to the deepest block
    max_links: int = MAX_LINKS  # links in one file node
    source_timeout_s: float = 30.0  # one source's wall clock for the root block and a small file...
    min_rate_bps: float = 1024**2  # ...plus one second per this many bytes the root declares
    deadline_s: float | None = None  # wall clock for the whole read, every source together; None: each source's own only

    def source_seconds(self, size: int) -> float:
        """How long one source may take to deliver a DAG of `size` bytes (verified by its CID)."""
        return self.source_timeout_s + size / self.min_rate_bps


DEFAULT_LIMITS = FetchLimits()


@dataclass(frozen=True)
class Deadline:
    """A point in `time.monotonic()` after which a read gives up; `math.inf` for none."""

    at: float = math.inf
    what: str = field(default="the read", compare=False)

    @classmethod
    def after(cls, seconds: float | None, what: str = "the read") -> "Deadline":
        return cls(math.inf if seconds is None else time.monotonic() + seconds, what)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def sooner(self, other: "Deadline") -> "Deadline":
        return self if self.at <= other.at else other

    def check(self) -> None:
        if self.expired():
            raise DeadlineExceeded(f"{self.what} did not finish within its deadline")
