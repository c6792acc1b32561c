"""The leaf blocks of a file, in order: hashed in the calling thread, or by worker threads.

Leaves are independent of each other, so for a large regular file worker
threads each take a batch of chunks at its own offset, reading (`os.preadv`)
and hashing one chunk at a time into a buffer of their own, so the data is
hashed while still in that core's cache; hashlib releases the GIL for buffers
over 2 KiB, so batches are hashed on separate cores while the calling thread
only assembles the DAG. Small files, pipes, in-memory streams and busy
machines get the calling thread.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Protocol, cast

from provenance.ipfs.chunks import ChunkReader, ReadInto
from provenance.ipfs.cid import DAG_PB, RAW, Cid
from provenance.ipfs.dagpb import leaf_envelope
from provenance.ipfs.errors import IpfsError
from provenance.ipfs.profile import ImportProfile

# Chunks per task given to a worker: enough that the hand-off costs little
# next to hashing them (see bench/bench_ipfs.py).
BATCH_CHUNKS = 8
MAX_WORKERS = 4


class BlockSink(Protocol):
    """Receives every block of an import; with worker threads, from several threads at once."""

    def put_parts(self, cid: Cid, parts: Sequence[bytes | memoryview]) -> None: ...


@dataclass(frozen=True)
class Node:
    """A block of the DAG as its parent links to it."""

    cid: Cid
    file_size: int  # bytes of file content under it
    tsize: int  # bytes of all blocks under it, itself included


def hash_leaf(chunk: memoryview, profile: ImportProfile, sink: BlockSink | None) -> Node:
    size = len(chunk)
    if profile.raw_leaves:
        cid = Cid(1, RAW, hashlib.sha256(chunk).digest())
        if sink is not None:
            sink.put_parts(cid, [chunk])
        return Node(cid, size, size)
    head, tail = leaf_envelope(size)
    digest = hashlib.sha256(head)
    digest.update(chunk)
    digest.update(tail)
    cid = Cid(profile.cid_version, DAG_PB, digest.digest())
    if sink is not None:
        sink.put_parts(cid, [head, chunk, tail])
    return Node(cid, size, len(head) + size + len(tail))


class LeafSource(Protocol):
    @property
    def done(self) -> bool: ...

    def next(self) -> Node: ...

    def close(self) -> None: ...


class SequentialLeaves:
    def __init__(self, stream: BinaryIO, profile: ImportProfile, sink: BlockSink | None) -> None:
        # Every stream given here (files, BytesIO, spools) has readinto, which typing.BinaryIO omits.
        self._reader = ChunkReader(cast(ReadInto, stream), profile.chunk_size)
        self._profile = profile
        self._sink = sink

    @property
    def done(self) -> bool:
        return self._reader.done

    def next(self) -> Node:
        return hash_leaf(self._reader.next(), self._profile, self._sink)

    def close(self) -> None:
        pass


class ParallelLeaves:
    """Leaves of `size` bytes of `stream` from its current position, hashed by a pool of threads."""

    def __init__(self, stream: BinaryIO, size: int, profile: ImportProfile, sink: BlockSink | None, workers: int) -> None:
        self._stream = stream
        self._fd = stream.fileno()
        self._start = stream.tell()
        self._end = self._start + size
        self._profile = profile
        self._sink = sink
        self._batch_size = profile.chunk_size * BATCH_CHUNKS
        self._buffers = threading.local()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="ipfs-hash")
        self._offsets = iter(range(self._start, self._end, self._batch_size))
        self._queued: deque[Future] = deque()
        self._ready: deque[Node] = deque()
        for _ in range(2 * workers):  # bounded: results stay small, buffers are per worker
            self._submit()

    def _submit(self) -> None:
        offset = next(self._offsets, None)
        if offset is not None:
            self._queued.append(self._pool.submit(self._hash_batch, offset))

    def _hash_batch(self, offset: int) -> list[Node]:
        """Read and hash one chunk at a time, so each is hashed while still in this core's cache."""
        buf = getattr(self._buffers, "view", None)
        if buf is None:
            buf = self._buffers.view = memoryview(bytearray(self._profile.chunk_size))
        end = min(offset + self._batch_size, self._end)
        nodes = []
        for start in range(offset, end, self._profile.chunk_size):
            length = min(self._profile.chunk_size, end - start)
            self._pread(buf[:length], start)
            nodes.append(hash_leaf(buf[:length], self._profile, self._sink))
        return nodes

    def _pread(self, view: memoryview, offset: int) -> None:
        read = 0
        while read < len(view):
            n = os.preadv(self._fd, [view[read:]], offset + read)
            if n == 0:
                raise IpfsError(f"{getattr(self._stream, 'name', 'the file')} shrank while it was being read")
            read += n

    @property
    def done(self) -> bool:
        return not self._ready and not self._queued

    def next(self) -> Node:
        if not self._ready:
            self._ready.extend(self._queued.popleft().result())  # re-raises a worker's exception here
            self._submit()
        return self._ready.popleft()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._stream.seek(self._end)  # as if read in this thread


def open_leaves(stream: BinaryIO, profile: ImportProfile, sink: BlockSink | None, parallel: bool | None = None) -> LeafSource:
    """Worker threads for a regular file of more than one batch, on a machine with several CPUs.

    `parallel=None` (the default) also asks that a CPU be idle: on a busy
    machine the threads cannot run side by side and only add ~5% of work
    (see bench/results/ipfs.md); the test is the 1-minute load average, as
    `make --load-average` does it. True forces worker threads where they can
    be used, False never uses them.
    """
    plan = parallel_plan(stream, profile, parallel)
    if plan is None:
        return SequentialLeaves(stream, profile, sink)
    workers, size = plan
    return ParallelLeaves(stream, size, profile, sink, workers)


def parallel_plan(stream: BinaryIO, profile: ImportProfile, parallel: bool | None = None) -> tuple[int, int] | None:
    """(worker threads, bytes left) if `open_leaves` would use worker threads now, else None.

    Separate from `open_leaves` so that a caller can ask without starting a
    pool, whose threads begin hashing the file as soon as it is built.
    """
    workers = min(_cpus(), MAX_WORKERS)
    if parallel is False or workers < 2 or not hasattr(os, "preadv"):
        return None
    if parallel is None and os.getloadavg()[0] > workers - 0.5:
        return None
    size = _remaining_bytes(stream)
    if size is not None and size > profile.chunk_size * BATCH_CHUNKS:
        return workers, size
    return None


def _remaining_bytes(stream: BinaryIO) -> int | None:
    try:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None
        return info.st_size - stream.tell()
    except (AttributeError, OSError, ValueError):  # no file descriptor: in memory, or closed
        return None


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
