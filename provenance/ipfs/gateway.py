"""Retrieval from HTTP gateways as a fallback, trusting nothing a gateway sends.

For each gateway in turn: the root block first (`?format=raw`, at most one
block's worth of bytes), which the CID authenticates, and with it the size the
DAG declares. A root declaring more than the read allows is refused there,
without asking any other gateway: every honest one would serve the same root.
Otherwise the whole DAG comes as one CAR (`?format=car`), or block by block if
the gateway cannot send one, capped at twice the declared size plus 1 MiB and
within a deadline that grows with the declared size. Every block is verified
against its CID and kept in a temporary spool (memory, then disk), and the DAG
is checked complete before a single byte is handed on, so a gateway that fails
half way costs nothing but the time it took.

What counts as one gateway's failure, so the next one is tried: absence, HTTP
errors, a malformed or incomplete CAR, bytes that do not match their CID, a
body over its cap, a redirect to another origin, a missed deadline. What does
not: anything the CID vouches for (a root declaring too much, sizes that
disagree, a DAG too deep), because every source serves the same. Under an
overall deadline each gateway gets an equal part of what is left for it and
those after it, so one that trickles cannot use up the others' time. When every
gateway fails the read raises `NoIntactCopy`, a `NotFound`: wrong bytes from
every gateway mean the content is unavailable, not that it was tampered with.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, TypeVar, cast

import httpx

from provenance.ipfs.car import iter_sections, read_header
from provenance.ipfs.cid import RAW, Cid, parse_cid
from provenance.ipfs.dag import child_cids, file_node, iter_dag, iter_file
from provenance.ipfs.errors import (
    BlockMismatch,
    CorruptCar,
    DeadlineExceeded,
    InconsistentDag,
    IpfsError,
    LimitExceeded,
    NoIntactCopy,
    NotFound,
    RemoteError,
    StoreUnavailable,
    TooLarge,
)
from provenance.ipfs.http import CappedBody, RetryPolicy, fetch_capped
from provenance.ipfs.limits import DEFAULT_LIMITS, MAX_BLOCK_BYTES, Deadline, FetchLimits

CAR_TYPE = "application/vnd.ipld.car"
RAW_TYPE = "application/vnd.ipld.raw"

# A CAR repeats each block's CID and length and wraps dag-pb leaves: about 60
# bytes per block, under 0.1% with 256 KiB chunks. Twice the content plus 1 MiB
# covers any importer's DAG with room to spare, and still stops a gateway that
# answers a 256 KiB request with gigabytes.
CAR_SIZE_FACTOR = 2
CAR_SLACK_BYTES = 1 << 20

SPOOL_IN_MEMORY = 8 << 20  # a DAG spool moves to a temporary file past this

# Faults of one gateway: the next one may do better.
_GATEWAY_FAULTS = (NotFound, RemoteError, StoreUnavailable, CorruptCar, DeadlineExceeded)

T = TypeVar("T")


class _Spool:
    """Verified blocks of one DAG from one gateway, kept out of memory once they are many."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._files: list[BinaryIO] = []
        self._index: dict[bytes, tuple[BinaryIO, int, int]] = {}
        self._loose: BinaryIO | None = None

    def new_file(self) -> BinaryIO:
        spool = cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY))
        self._files.append(spool)
        return spool

    def add(self, cid: Cid, block: bytes) -> None:
        """Keep a block the caller has verified."""
        if self._loose is None:
            self._loose = self.new_file()
        offset = self._loose.seek(0, 2)
        self._loose.write(block)
        self._index[cid.to_bytes()] = (self._loose, offset, len(block))

    def index_car(self, car: BinaryIO) -> None:
        """Index a downloaded CAR in place, verifying every block; a wrong one raises `BlockMismatch`."""
        car.seek(0)
        read_header(car)
        for cid, block in iter_sections(car, self.source):
            self._index[cid.to_bytes()] = (car, car.tell() - len(block), len(block))

    def __contains__(self, cid: Cid) -> bool:
        return cid.to_bytes() in self._index

    def get(self, cid: Cid) -> bytes:
        found = self._index.get(cid.to_bytes())
        if found is None:
            raise RemoteError(f"{self.source} did not send block {cid}")
        spool, offset, length = found
        spool.seek(offset)
        return spool.read(length)

    def close(self) -> None:
        for spool in self._files:
            spool.close()


class GatewayFetcher:
    def __init__(
        self,
        gateways: Iterable[str],
        *,
        timeout_s: float = 60.0,
        retry: RetryPolicy = RetryPolicy(attempts=2),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.gateways = [g.rstrip("/") for g in gateways]
        self.retry = retry
        self.timeout_s = timeout_s  # per request; `FetchLimits` bounds the whole read
        # Redirects are followed by `fetch_capped`, within one origin only; bodies
        # are verified as sent, so ask for them uncompressed.
        self._client = httpx.Client(transport=transport, follow_redirects=False, headers={"Accept-Encoding": "identity"})

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "GatewayFetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reads -------------------------------------------------------------------------------

    def cat(self, cid: str, *, limits: FetchLimits | None = None) -> bytes:
        """The file's bytes from the first gateway that serves them intact, within `limits`."""
        return b"".join(self.iter_cat(cid, limits=limits))

    def iter_cat(self, cid: str, *, limits: FetchLimits | None = None) -> Iterator[bytes]:
        """As `cat`, block by block; the whole DAG is fetched and checked before the first byte."""
        root, limits = parse_cid(cid), limits or DEFAULT_LIMITS
        spool = self._first(root, limits, lambda gateway, deadline: self._fetch_dag(gateway, root, limits, deadline))
        try:
            yield from iter_file(root, spool.get, limits)
        finally:
            spool.close()

    def verify(self, cid: str, *, limits: FetchLimits | None = None) -> None:
        """Fetch the whole DAG under `cid` from the first gateway that has it, checking every block."""
        root, limits = parse_cid(cid), limits or DEFAULT_LIMITS
        self._first(root, limits, lambda gateway, deadline: self._fetch_dag(gateway, root, limits, deadline)).close()

    def has(self, cid: str) -> bool:
        """Whether some gateway serves the root block intact."""
        root = parse_cid(cid)
        try:
            self._first(root, DEFAULT_LIMITS, lambda gateway, deadline: self._root_block(gateway, root, DEFAULT_LIMITS, deadline))
        except NotFound:
            return False
        return True

    # -- one gateway after another --------------------------------------------------------------

    def _first(self, root: Cid, limits: FetchLimits, use: Callable[[str, Deadline], T]) -> T:
        """`use(gateway, deadline)` for the first gateway that can serve `root`; `NoIntactCopy` listing every failure."""
        if not self.gateways:
            raise NoIntactCopy(str(root), "any gateway (none configured)")
        deadline = Deadline.after(limits.deadline_s, f"reading {root} from the gateways")
        failures: list[str] = []
        mismatched: list[str] = []
        for index, gateway in enumerate(self.gateways):
            if deadline.expired():
                failures.append(f"gateway {gateway} not asked: {deadline.what} did not finish within its deadline")
                continue
            try:
                return use(gateway, _share(deadline, len(self.gateways) - index, gateway))
            except BlockMismatch as exc:
                mismatched.append(gateway)
                failures.append(str(exc))
            except _GATEWAY_FAULTS as exc:
                failures.append(_naming(gateway, exc))
        raise NoIntactCopy(str(root), "any configured gateway: " + "; ".join(failures), tuple(mismatched))

    def _fetch_dag(self, gateway: str, root: Cid, limits: FetchLimits, deadline: Deadline) -> _Spool:
        """Every block under `root` from one gateway, verified and complete, in a spool."""
        started = time.monotonic()
        block = self._root_block(gateway, root, limits, deadline)
        size = _declared_size(root, block, limits)
        spool = _Spool(f"gateway {gateway}")
        try:
            spool.add(root, block)
            if not child_cids(root, block):
                return spool
            # The CID vouches for the declared size, so the time allowed may grow with it.
            what = f"reading {root} from gateway {gateway}"
            deadline = deadline.sooner(Deadline(started + limits.source_seconds(size), what))
            budget = CAR_SIZE_FACTOR * size + CAR_SLACK_BYTES
            if self._car_into(spool, gateway, root, budget, deadline):
                for _ in iter_dag(root, spool.get):  # complete? (each distinct block once)
                    pass
            else:
                self._blocks_into(spool, gateway, root, budget, deadline)
            return spool
        except BaseException:
            spool.close()
            raise

    def _root_block(self, gateway: str, root: Cid, limits: FetchLimits, deadline: Deadline) -> bytes:
        # A raw root is the whole file, so the read's own limit applies; a dag-pb
        # root only links the content, and any node fits in one block.
        cap = min(limits.max_bytes, MAX_BLOCK_BYTES) if root.codec == RAW else MAX_BLOCK_BYTES
        what = f"reading {root} from gateway {gateway}"
        return self._raw_block(gateway, root, cap, deadline.sooner(Deadline.after(limits.source_timeout_s, what)))

    def _car_into(self, spool: _Spool, gateway: str, root: Cid, budget: int, deadline: Deadline) -> bool:
        """Download the DAG as a CAR into `spool`; False if the gateway does not offer one."""
        car = spool.new_file()
        body = self._get(gateway, root, "car", CAR_TYPE, budget, deadline, sink=car)
        if body.status_code != 200 or not body.content_type.startswith(CAR_TYPE):
            return False
        try:
            spool.index_car(car)
        except CorruptCar as exc:
            raise RemoteError(f"gateway {gateway} sent a malformed CAR for {root}: {exc}") from None
        return True

    def _blocks_into(self, spool: _Spool, gateway: str, root: Cid, budget: int, deadline: Deadline) -> None:
        """Fetch the DAG block by block (`?format=raw`) into `spool`, at most `budget` bytes in all."""
        received = 0

        def get(cid: Cid) -> bytes:
            nonlocal received
            if cid in spool:
                return spool.get(cid)
            if received >= budget:
                raise RemoteError(f"gateway {gateway}: the DAG under {root} holds more than the {budget} bytes its size allows")
            block = self._raw_block(gateway, cid, min(MAX_BLOCK_BYTES, budget - received), deadline)
            received += len(block)
            spool.add(cid, block)
            return block

        for _ in iter_dag(root, get):
            pass

    def _raw_block(self, gateway: str, cid: Cid, cap: int, deadline: Deadline) -> bytes:
        body = self._get(gateway, cid, "raw", RAW_TYPE, cap, deadline)
        if body.status_code != 200:
            raise RemoteError(f"gateway {gateway} answered HTTP {body.status_code} for {cid}")
        cid.verify(body.content, f"gateway {gateway}")
        return body.content

    def _get(
        self, gateway: str, cid: Cid, fmt: str, accept: str, max_bytes: int, deadline: Deadline, sink: BinaryIO | None = None
    ) -> CappedBody:
        """One trustless-gateway request for `cid` in `fmt`, within its byte cap and deadline; 404 is NotFound."""
        body = fetch_capped(
            self._client,
            "GET",
            f"{gateway}/ipfs/{cid}",
            params={"format": fmt},
            headers={"Accept": accept},
            what=f"gateway {gateway}",
            max_bytes=max_bytes,
            deadline=deadline,
            retry=self.retry,
            request_timeout_s=self.timeout_s,
            sink=sink,
        )
        if body.status_code == 404:
            raise NotFound(str(cid), f"gateway {gateway}")
        return body


def _declared_size(root: Cid, block: bytes, limits: FetchLimits) -> int:
    """The file size the (verified) root declares, or the read's limit where it declares none.

    Raises `TooLarge` for a root declaring more than the limit: the CID vouches
    for that claim, so no gateway is worth asking further.
    """
    try:
        size = file_node(root, block, limits.max_links).size
    except (InconsistentDag, LimitExceeded):
        raise
    except IpfsError:
        return limits.max_bytes  # not a UnixFS file (verify walks any DAG): bounded by the limit alone
    if size > limits.max_bytes:
        raise TooLarge(f"{root} declares {size} bytes, more than this read's limit of {limits.max_bytes}")
    return size


def _share(deadline: Deadline, left: int, gateway: str) -> Deadline:
    """A gateway's time under an overall deadline: an equal part of what is left for it and the gateways
    after it (the last one gets all of it), so that one that trickles cannot keep the others from being asked."""
    if left <= 1 or deadline.at == math.inf:
        return deadline
    return deadline.sooner(Deadline.after(deadline.remaining() / left, f"gateway {gateway}'s share of {deadline.what}"))


def _naming(gateway: str, exc: Exception) -> str:
    """The failure's message, with the gateway named if it is not already."""
    text = str(exc)
    return text if gateway in text else f"gateway {gateway}: {text}"
