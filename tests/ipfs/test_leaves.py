"""Leaves hashed by worker threads: the same DAG as in the calling thread at every batch boundary,
clean failures, no thread left behind."""

from __future__ import annotations

import errno
import io
import os
import threading

import pytest

from provenance.ipfs import EmbeddedStore, ImportProfile, IpfsError
from provenance.ipfs.importer import import_stream
from provenance.ipfs.leaves import BATCH_CHUNKS, ParallelLeaves, SequentialLeaves, open_leaves, parallel_plan
from tests.ipfs.conftest import kubo_random_bytes, write_kubo_random

CHUNK = 256 * 1024
BATCH = BATCH_CHUNKS * CHUNK
PROFILE = ImportProfile.for_version(1)


@pytest.fixture(autouse=True)
def idle_two_cpu_machine(monkeypatch):
    """What the default mode sees on an idle 2-CPU machine, whatever this one's load is now."""
    monkeypatch.setattr("provenance.ipfs.leaves._cpus", lambda: 2)
    monkeypatch.setattr("provenance.ipfs.leaves.os.getloadavg", lambda: (0.2, 0.2, 0.2))


def _workers_alive() -> bool:
    return any(t.name.startswith("ipfs-hash") for t in threading.enumerate())


@pytest.mark.parametrize("size", [BATCH + 1, 2 * BATCH - 1, 2 * BATCH, 2 * BATCH + CHUNK, 7 * BATCH + 17])
@pytest.mark.parametrize("version", [0, 1])
def test_worker_threads_build_the_same_dag_as_the_calling_thread(tmp_path, size, version):
    path = write_kubo_random(tmp_path / "f", size, f"par-{size}")
    results = []
    for parallel in (True, False):
        with open(path, "rb", buffering=0) as stream:
            results.append(import_stream(stream, ImportProfile.for_version(version), parallel=parallel))
            assert stream.tell() == size  # the stream ends where a sequential read would leave it
    assert results[0] == results[1]
    assert not _workers_alive()


def test_only_large_regular_files_use_worker_threads(tmp_path, monkeypatch):
    large = write_kubo_random(tmp_path / "large", BATCH + 1, "large")
    small = write_kubo_random(tmp_path / "small", BATCH, "small")
    with open(large, "rb") as stream:
        leaves = open_leaves(stream, PROFILE, None)
        assert isinstance(leaves, ParallelLeaves)
        leaves.close()
        stream.seek(0)
        assert isinstance(open_leaves(stream, PROFILE, None, parallel=False), SequentialLeaves)
    with open(small, "rb") as stream:
        assert isinstance(open_leaves(stream, PROFILE, None), SequentialLeaves)
    assert isinstance(open_leaves(io.BytesIO(kubo_random_bytes(2 * BATCH, "mem")), PROFILE, None), SequentialLeaves)
    monkeypatch.setattr("provenance.ipfs.leaves._cpus", lambda: 1)
    with open(large, "rb") as stream:
        assert isinstance(open_leaves(stream, PROFILE, None), SequentialLeaves)


def test_blocks_written_from_worker_threads_are_intact(tmp_path):
    data = kubo_random_bytes(5 * BATCH + 5, "stored")
    path = tmp_path / "media"
    path.write_bytes(data)
    store = EmbeddedStore(tmp_path / "store")
    cid = store.add_file(path, cid_version=0).cid
    store.verify(cid)
    assert store.cat(cid) == data
    assert not _workers_alive()


def test_a_read_error_in_a_worker_reaches_the_caller(tmp_path, monkeypatch):
    path = write_kubo_random(tmp_path / "f", 4 * BATCH, "eio")
    real_preadv = os.preadv

    def failing_preadv(fd, buffers, offset):
        if offset >= 2 * BATCH:
            raise OSError(errno.EIO, "Input/output error")
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr("provenance.ipfs.leaves.os.preadv", failing_preadv)
    with open(path, "rb") as stream:
        with pytest.raises(OSError, match="Input/output error"):
            import_stream(stream, PROFILE)
    assert not _workers_alive()


def test_a_file_that_shrinks_while_read_is_an_error(tmp_path):
    path = write_kubo_random(tmp_path / "f", 20 * BATCH, "shrink")  # more batches than are queued ahead
    with open(path, "rb") as stream:
        leaves = open_leaves(stream, PROFILE, None)
        try:
            with open(path, "r+b") as writer:
                writer.truncate(BATCH)
            with pytest.raises(IpfsError, match="shrank"):
                while not leaves.done:
                    leaves.next()
        finally:
            leaves.close()
    assert not _workers_alive()


def test_a_failing_sink_stops_the_workers(tmp_path):
    class FullDisk:
        def __init__(self) -> None:
            self.blocks = 0
            self.lock = threading.Lock()

        def put_parts(self, cid, parts) -> None:
            with self.lock:
                self.blocks += 1
                if self.blocks >= 3:
                    raise OSError(errno.ENOSPC, "No space left on device")

    path = write_kubo_random(tmp_path / "f", 6 * BATCH, "full")
    with open(path, "rb") as stream:
        with pytest.raises(OSError, match="No space"):
            import_stream(stream, PROFILE, FullDisk())
    assert not _workers_alive()


def test_by_default_a_busy_machine_gets_the_calling_thread(tmp_path, monkeypatch):
    monkeypatch.setattr("provenance.ipfs.leaves.os.getloadavg", lambda: (1.7, 1.0, 1.0))
    path = write_kubo_random(tmp_path / "large", 2 * BATCH, "busy")
    with open(path, "rb") as stream:
        assert isinstance(open_leaves(stream, PROFILE, None), SequentialLeaves)
        leaves = open_leaves(stream, PROFILE, None, parallel=True)  # forced: load does not matter
        assert isinstance(leaves, ParallelLeaves)
        leaves.close()


def test_the_plan_matches_what_open_leaves_builds(tmp_path, monkeypatch):
    large = write_kubo_random(tmp_path / "large", 2 * BATCH + 1, "plan-large")
    small = write_kubo_random(tmp_path / "small", BATCH + 1, "plan-small")  # one batch left after the seek
    built = []
    for load in (0.2, 1.7):
        monkeypatch.setattr("provenance.ipfs.leaves.os.getloadavg", lambda load=load: (load, load, load))
        for path in (large, small):
            for parallel in (None, True, False):
                with open(path, "rb") as stream:
                    stream.seek(1)
                    plan = parallel_plan(stream, PROFILE, parallel)
                    leaves = open_leaves(stream, PROFILE, None, parallel)
                    leaves.close()
                assert (plan is not None) == isinstance(leaves, ParallelLeaves), (load, path.name, parallel)
                if plan is not None:
                    assert plan == (2, 2 * BATCH)  # from where the stream stands, not the whole file
                built.append(plan is not None)
    assert built.count(True) == 3  # large file: default when idle, forced when idle and when busy


def test_the_benchmark_asks_for_the_default_mode_without_building_a_pool(tmp_path, monkeypatch):
    from bench.bench_ipfs import default_uses_workers

    def no_pool(*args, **kwargs):
        raise AssertionError("a pool was built between timed runs")

    monkeypatch.setattr("provenance.ipfs.leaves.ThreadPoolExecutor", no_pool)
    path = write_kubo_random(tmp_path / "large", 2 * BATCH, "bench")
    assert default_uses_workers(path) is True
    monkeypatch.setattr("provenance.ipfs.leaves.os.getloadavg", lambda: (1.7, 1.0, 1.0))
    assert default_uses_workers(path) is False
