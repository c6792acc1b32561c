"""Gateways that flood, trickle, lie or redirect, as real servers on 127.0.0.1.

Each test gives the fetch small limits (a few KiB, a second) so that what a
production default would stop after minutes is stopped here in under one.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from provenance.ipfs import BlockMismatch, EmbeddedStore, NotFound, raw_cid_from_sha256
from provenance.ipfs.errors import InconsistentDag, NoIntactCopy, TooLarge
from provenance.ipfs.fallback import GatewayFallbackStore
from provenance.ipfs.gateway import GatewayFetcher
from provenance.ipfs.http import RetryPolicy
from provenance.ipfs.limits import FetchLimits
from tests.ipfs.bombs import fan_bomb
from tests.ipfs.conftest import kubo_random_bytes
from tests.ipfs.servers import (
    ServedBytes,
    flood_handler,
    gateway_handler,
    recording,
    redirect_handler,
    serve,
    trickle_handler,
)

CHUNK = 256 * 1024
FAST = FetchLimits(source_timeout_s=1.0)
ONCE = RetryPolicy(attempts=1)


def fetcher(*urls: str) -> GatewayFetcher:
    return GatewayFetcher(urls, retry=ONCE)


@pytest.fixture
def metadata(store):
    """A small raw-CID document, as the metadata of a certificate is stored; (cid, bytes)."""
    data = b'{"name": "a certified photo", "provenance": {}}'
    cid = store.add_bytes(data).cid
    assert cid == raw_cid_from_sha256(hashlib.sha256(data).digest())
    return cid, data


@pytest.fixture
def honest(store):
    with serve(gateway_handler(store)) as (_, url):
        yield url


# -- size ----------------------------------------------------------------------------------


@pytest.mark.parametrize("announce", [None, 1 << 30])
def test_a_gateway_streaming_past_the_cap_is_cut_off_and_the_next_one_used(metadata, honest, announce):
    cid, data = metadata
    flood = ServedBytes()
    limits = FetchLimits(max_bytes=4096, source_timeout_s=5)
    with serve(flood_handler(flood, content_length=announce)) as (_, url):
        started = time.monotonic()
        with fetcher(url) as gateway, pytest.raises(NoIntactCopy, match="more than the 4096 bytes") as exc:
            gateway.cat(cid, limits=limits)
        assert time.monotonic() - started < 3
        assert url in str(exc.value) and cid in str(exc.value)
        with fetcher(url, honest) as gateway:
            assert gateway.cat(cid, limits=limits) == data


def test_a_raw_block_is_capped_even_with_the_default_limits(metadata):
    cid, _ = metadata
    flood = ServedBytes()
    with serve(flood_handler(flood)) as (_, url):
        with fetcher(url) as gateway, pytest.raises(NoIntactCopy, match="more than the 2097152 bytes"):
            gateway.cat(cid)  # no limits passed: a raw CID is one block, never more than 2 MiB


def test_a_car_is_capped_by_the_size_its_root_declares(store, honest):
    data = kubo_random_bytes(3 * CHUNK + 1, "declared")
    cid = store.add_bytes(data).cid
    flood = ServedBytes()
    with serve(flood_handler(flood, raw_from=store)) as (_, url):  # honest root block, endless CAR
        started = time.monotonic()
        with fetcher(url, honest) as gateway:
            assert gateway.cat(cid) == data  # default limits: the cap comes from the root, not from 4 GiB
        assert time.monotonic() - started < 5
    assert flood.sent < 64 * 1024**2  # stopped near 2x the declared 768 KiB, not at the 4 GiB default


# -- time ----------------------------------------------------------------------------------


def test_a_trickling_gateway_is_abandoned_at_its_deadline_and_the_next_one_used(metadata, honest):
    cid, data = metadata
    slow = ServedBytes()
    with serve(trickle_handler(slow, every_s=0.1)) as (_, url):
        started = time.monotonic()
        with fetcher(url) as gateway, pytest.raises(NoIntactCopy, match="deadline"):
            gateway.cat(cid, limits=FAST)
        assert time.monotonic() - started < 2.5
        started = time.monotonic()
        with fetcher(url, honest) as gateway:
            assert gateway.cat(cid, limits=FAST) == data
        assert time.monotonic() - started < 2.5


def test_the_overall_deadline_spans_every_gateway(metadata):
    cid, _ = metadata
    counters = [ServedBytes() for _ in range(3)]
    with (
        serve(trickle_handler(counters[0])) as (_, a),
        serve(trickle_handler(counters[1])) as (_, b),
        serve(trickle_handler(counters[2])) as (_, c),
    ):
        started = time.monotonic()
        with fetcher(a, b, c) as gateway, pytest.raises(NoIntactCopy, match="deadline"):
            gateway.cat(cid, limits=FetchLimits(source_timeout_s=10, deadline_s=1.0))
        assert time.monotonic() - started < 2.5


# -- wrong bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["tamper", "tamper-raw"])
def test_wrong_bytes_from_one_gateway_are_its_failure_and_the_next_is_tried(store, honest, mode):
    data = kubo_random_bytes(CHUNK + 3, "one-liar")
    cid = store.add_bytes(data).cid
    with serve(gateway_handler(store, mode)) as (_, liar):
        with fetcher(liar, honest) as gateway:
            assert gateway.cat(cid) == data
            gateway.verify(cid)


def test_wrong_bytes_from_every_gateway_is_unavailable_not_tampered(store):
    data = kubo_random_bytes(CHUNK + 3, "all-liars")
    cid = store.add_bytes(data).cid
    leaf = raw_cid_from_sha256(hashlib.sha256(data[CHUNK:]).digest())
    with serve(gateway_handler(store, "tamper")) as (_, a), serve(gateway_handler(store, "tamper-raw")) as (_, b):
        with fetcher(a, b) as gateway, pytest.raises(NoIntactCopy, match=leaf) as exc:
            gateway.cat(cid)
    assert isinstance(exc.value, NotFound) and not isinstance(exc.value, BlockMismatch)
    assert exc.value.mismatched == (a, b)


# -- redirects -----------------------------------------------------------------------------


def test_a_redirect_to_another_origin_is_refused(metadata, store):
    cid, _ = metadata
    target, redirector = ServedBytes(), ServedBytes()
    with serve(recording(gateway_handler(store), target)) as (_, elsewhere):
        with serve(redirect_handler(redirector, elsewhere)) as (_, url):
            with fetcher(url) as gateway, pytest.raises(NoIntactCopy, match="another origin"):
                gateway.cat(cid)
    assert redirector.requests and target.requests == []


@pytest.mark.parametrize("size", [40, 3 * CHUNK + 1])
def test_a_redirect_within_the_same_origin_is_followed(store, size):
    data = kubo_random_bytes(size, "same-origin")
    cid = store.add_bytes(data).cid
    with serve(gateway_handler(store, "redirect-same")) as (_, url):
        with fetcher(url) as gateway:
            assert gateway.cat(cid) == data


# -- DAG bombs through a gateway ------------------------------------------------------------


def test_a_root_declaring_more_than_the_limit_is_refused_without_fetching_the_dag(tmp_path):
    remote = EmbeddedStore(tmp_path / "remote")
    bomb = fan_bomb(1024, 40, 2)
    cid = bomb.put_into(remote)
    seen = ServedBytes()
    with serve(recording(gateway_handler(remote), seen)) as (_, url), serve(gateway_handler(remote)) as (_, other):
        with fetcher(url, other) as gateway, pytest.raises(TooLarge, match="declares 1638400 bytes"):
            gateway.cat(cid, limits=FetchLimits(max_bytes=100_000))
    assert [p.split("?")[1] for p in seen.requests] == ["format=raw"]  # the root only; the next gateway not asked


def test_understated_sizes_through_a_gateway_are_the_dags_fault_not_the_gateways(tmp_path):
    remote = EmbeddedStore(tmp_path / "remote")
    cid = fan_bomb(1024, 40, 2, honest=False).put_into(remote)
    second = ServedBytes()
    with serve(gateway_handler(remote)) as (_, url), serve(recording(gateway_handler(remote), second)) as (_, other):
        with fetcher(url, other) as gateway, pytest.raises(InconsistentDag):
            gateway.cat(cid)
    assert second.requests == []  # every source would serve the same authenticated DAG


# -- the fallback store streams ---------------------------------------------------------------


def test_the_fallback_store_streams_from_a_gateway_with_the_callers_limits(tmp_path, honest, store):
    data = kubo_random_bytes(3 * CHUNK + 1, "streamed")
    cid = store.add_bytes(data).cid
    local = GatewayFallbackStore(EmbeddedStore(tmp_path / "local"), fetcher(honest))
    try:
        assert b"".join(local.iter_cat(cid)) == data
        with pytest.raises(TooLarge):
            next(local.iter_cat(cid, limits=FetchLimits(max_bytes=CHUNK)))
    finally:
        local.close()


def test_the_fallback_store_finishes_from_a_gateway_what_the_local_store_has_only_part_of(tmp_path, honest, store):
    data = kubo_random_bytes(3 * CHUNK + 1, "partial")
    cid = store.add_bytes(data).cid
    local_store = EmbeddedStore(tmp_path / "local")
    assert local_store.add_bytes(data).cid == cid
    [block_file] = [p for p in (tmp_path / "local" / "blocks").rglob("*") if p.is_file() and p.read_bytes() == data[3 * CHUNK :]]
    block_file.unlink()
    local = GatewayFallbackStore(local_store, fetcher(honest))
    try:
        assert b"".join(local.iter_cat(cid)) == data
        assert local.cat(cid) == data
    finally:
        local.close()
