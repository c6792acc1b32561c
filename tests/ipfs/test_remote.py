"""Pinning Service API client and gateway retrieval, against spec-conformant servers on 127.0.0.1."""

from __future__ import annotations

import hashlib

import pytest

from provenance.ipfs import BlockMismatch, NotFound, RemoteError, StoreUnavailable, raw_cid_from_sha256
from provenance.ipfs.errors import NoIntactCopy
from provenance.ipfs.gateway import GatewayFetcher
from provenance.ipfs.http import RetryPolicy
from provenance.ipfs.pinning import PinningService
from tests.ipfs.conftest import kubo_random_bytes
from tests.ipfs.servers import PinningState, gateway_handler, pinning_handler, serve

CHUNK = 256 * 1024
HELLO = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


@pytest.fixture
def pinning():
    state = PinningState(token="secret", fail_names={"doomed"})
    with serve(pinning_handler(state)) as (_, url):
        yield state, url


def test_pin_and_wait_polls_until_pinned_and_sends_origins(pinning):
    state, url = pinning
    sleeps = []
    origins = ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWQZcGFyk5CDtXUnSERpBtj6Z8fNGuf1ATJqwKVw69vP9B"]
    with PinningService(url, "secret") as service:
        status = service.pin_and_wait(HELLO, name="cert-1", origins=origins, meta={"token": 7}, sleep=sleeps.append)
        assert status.status == "pinned" and status.cid == HELLO
        assert len(sleeps) == 2  # queued -> pinning -> pinned
        assert state.requests == [{"cid": HELLO, "name": "cert-1", "origins": origins, "meta": {"token": "7"}}]
        listed = service.list(cids=[HELLO])
        assert [p.requestid for p in listed] == [status.requestid]
        service.remove(status.requestid)
        assert service.list() == []
        with pytest.raises(NotFound):
            service.get(status.requestid)


def test_failed_pin_raises(pinning):
    _, url = pinning
    with PinningService(url, "secret") as service:
        with pytest.raises(RemoteError, match="failed to pin"):
            service.pin_and_wait(HELLO, name="doomed", sleep=lambda s: None)


def test_pin_timeout_raises(pinning):
    _, url = pinning
    ticks = iter(range(0, 10_000, 100))
    with PinningService(url, "secret") as service:
        with pytest.raises(RemoteError, match="did not pin"):
            service.pin_and_wait(HELLO, timeout_s=50, sleep=lambda s: None, clock=lambda: next(ticks))


def test_wrong_token_is_refused(pinning):
    _, url = pinning
    with PinningService(url, "wrong") as service:
        with pytest.raises(RemoteError, match="401"):
            service.add(HELLO)


def test_unreachable_service_retries_then_reports(pinning):
    _, url = pinning
    closed = url.rsplit(":", 1)[0] + ":1"
    with PinningService(closed, "secret", retry=RetryPolicy(attempts=3, backoff_s=0.01)) as service:
        with pytest.raises(StoreUnavailable, match="after 3 attempts"):
            service.add(HELLO)


@pytest.mark.parametrize("mode", ["honest", "no-car"])
def test_gateway_content_is_verified_and_returned(store, mode):
    data = kubo_random_bytes(3 * CHUNK + 1, "gateway")
    cid = store.add_bytes(data, cid_version=0).cid
    with serve(gateway_handler(store, mode)) as (_, url):
        with GatewayFetcher([url]) as gateway:
            assert gateway.cat(cid) == data


@pytest.mark.parametrize("mode", ["tamper", "tamper-raw"])
def test_gateway_returning_wrong_bytes_is_unavailable_naming_the_block(store, mode):
    """Wrong bytes are the gateway's fault, not the content's: no intact copy (a NotFound), never a BlockMismatch."""
    data = kubo_random_bytes(CHUNK + 3, "evil")
    result = store.add_bytes(data)
    leaf = raw_cid_from_sha256(hashlib.sha256(data[CHUNK:]).digest())  # the last block, which is altered
    with serve(gateway_handler(store, mode)) as (_, url):
        with GatewayFetcher([url]) as gateway:
            with pytest.raises(NoIntactCopy, match=f"{leaf} from gateway .* does not match") as exc:
                gateway.cat(result.cid)
    assert not isinstance(exc.value, BlockMismatch) and exc.value.mismatched == (url,)


def test_gateway_falls_through_to_the_next_and_reports_absence(store, tmp_path):
    from provenance.ipfs import EmbeddedStore

    empty = EmbeddedStore(tmp_path / "empty")
    cid = store.add_bytes(b"only on the second gateway").cid
    with serve(gateway_handler(empty)) as (_, first), serve(gateway_handler(store)) as (_, second):
        with GatewayFetcher([first, second]) as gateway:
            assert gateway.cat(cid) == b"only on the second gateway"
        with GatewayFetcher([first]) as gateway:
            with pytest.raises(NotFound, match=cid):
                gateway.cat(cid)


def test_kubo_errors_and_repr_never_show_credentials_in_the_api_url():
    import socket

    from provenance.ipfs.kubo import KuboStore

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = KuboStore(f"http://alice:hunter2@127.0.0.1:{port}", retry=RetryPolicy(attempts=1))
    assert "hunter2" not in repr(store)
    with pytest.raises((StoreUnavailable, RemoteError, NotFound)) as exc:
        store.cat(raw_cid_from_sha256(hashlib.sha256(b"x").digest()))
    assert "hunter2" not in str(exc.value) and "127.0.0.1" in str(exc.value)
