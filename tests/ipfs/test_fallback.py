"""New settings, `open_store` wiring, and reads that fall back to gateways (real servers on 127.0.0.1)."""

from __future__ import annotations

import hashlib

import pytest

from provenance.config import ConfigError, load_settings
from provenance.ipfs import BlockMismatch, EmbeddedStore, NotFound, open_store, raw_cid_from_sha256
from provenance.ipfs.errors import NoIntactCopy
from provenance.ipfs.fallback import GatewayFallbackStore, primary_of
from tests.ipfs.conftest import kubo_random_bytes
from tests.ipfs.servers import gateway_handler, header_recording_handler, serve

CHUNK = 256 * 1024


def test_new_settings_from_file_and_environment(tmp_path):
    (tmp_path / "config.toml").write_text(
        'ipfs_api_auth = "Basic ZmlsZQ=="\npinning_service = "https://pin.example/psa"\nipfs_gateways = ["https://gw.example"]\n'
    )
    settings = load_settings(tmp_path, environ={"PROVENANCE_PINNING_TOKEN": "tok-123"})
    assert settings.ipfs_api_auth == "Basic ZmlsZQ=="
    assert settings.pinning_service == "https://pin.example/psa"
    assert settings.ipfs_gateways == ("https://gw.example",)
    assert settings.pinning_token == "tok-123"
    env = {
        "PROVENANCE_IPFS_API_AUTH": "Bearer env",
        "PROVENANCE_PINNING_SERVICE": "http://127.0.0.1:9/psa",
        "PROVENANCE_IPFS_GATEWAYS": "http://a, http://b",
    }
    settings = load_settings(tmp_path, environ=env)
    assert (settings.ipfs_api_auth, settings.pinning_service) == ("Bearer env", "http://127.0.0.1:9/psa")
    assert settings.ipfs_gateways == ("http://a", "http://b")
    assert settings.pinning_token == ""


def test_secrets_stay_out_of_repr_and_the_token_out_of_config_files(tmp_path):
    settings = load_settings(tmp_path, environ={"PROVENANCE_PINNING_TOKEN": "tok-123", "PROVENANCE_IPFS_API_AUTH": "Basic c2VjcmV0"})
    assert "tok-123" not in repr(settings) and "c2VjcmV0" not in repr(settings)
    (tmp_path / "config.toml").write_text('pinning_token = "leaked"\n')
    with pytest.raises(ConfigError, match="PROVENANCE_PINNING_TOKEN") as exc:
        load_settings(tmp_path, environ={})
    assert "leaked" not in str(exc.value)


def test_open_store_sends_the_configured_authorization_to_kubo(ipfs_home, monkeypatch):
    seen: list[dict] = []
    with serve(header_recording_handler(seen)) as (_, url):
        monkeypatch.setenv("PROVENANCE_IPFS_BACKEND", "kubo")
        monkeypatch.setenv("PROVENANCE_IPFS_API", url)
        monkeypatch.setenv("PROVENANCE_IPFS_API_AUTH", "Basic dXNlcjpwYXNz")
        store = open_store(load_settings())
        try:
            assert store.version() == "0.29.0"
        finally:
            store.close()
    assert seen == [{"path": "/api/v0/version", "authorization": "Basic dXNlcjpwYXNz"}]


def test_without_gateways_the_backend_is_returned_as_is(ipfs_home):
    assert isinstance(open_store(load_settings()), EmbeddedStore)


@pytest.fixture
def remote(tmp_path):
    """A second embedded store served by a trustless gateway; yields (store, url)."""
    store = EmbeddedStore(tmp_path / "remote")
    with serve(gateway_handler(store)) as (_, url):
        yield store, url


def _fallback_store(monkeypatch, *gateways: str) -> GatewayFallbackStore:
    monkeypatch.setenv("PROVENANCE_IPFS_GATEWAYS", ",".join(gateways))
    store = open_store(load_settings())
    assert isinstance(store, GatewayFallbackStore) and isinstance(primary_of(store), EmbeddedStore)
    return store


def test_reads_fall_back_to_the_gateway_and_never_write_locally(ipfs_home, monkeypatch, remote):
    remote_store, url = remote
    data = kubo_random_bytes(3 * CHUNK + 5, "fallback")
    cid = remote_store.add_bytes(data).cid
    store = _fallback_store(monkeypatch, url)
    assert store.cat(cid) == data
    assert store.has(cid)
    store.verify(cid)
    assert not primary_of(store).has(cid)  # reading from a gateway stores nothing
    with pytest.raises(NotFound):
        store.pin(cid)  # pins promise local content; the gateway's copy does not count


def test_adds_and_pins_go_to_the_primary_store(ipfs_home, monkeypatch, remote):
    remote_store, url = remote
    store = _fallback_store(monkeypatch, url)
    added = store.add_bytes(b"local only", pin=False)
    assert primary_of(store).has(added.cid) and not remote_store.has(added.cid)
    store.pin(added.cid)
    assert store.pins() == [added.cid] and remote_store.pins() == []
    assert store.cat(added.cid) == b"local only"


def test_content_in_neither_place_is_not_found_naming_both(ipfs_home, monkeypatch, remote):
    _, url = remote
    store = _fallback_store(monkeypatch, url)
    cid = raw_cid_from_sha256(hashlib.sha256(b"nowhere").digest())
    assert not store.has(cid)
    with pytest.raises(NotFound, match=cid) as exc:
        store.cat(cid)
    assert "EmbeddedStore" in str(exc.value) and url in str(exc.value)


@pytest.mark.parametrize("mode", ["tamper", "tamper-raw"])
def test_a_gateway_sending_wrong_bytes_is_no_intact_copy_naming_the_block(ipfs_home, monkeypatch, tmp_path, mode):
    """Unavailable (a NotFound naming the bad block and gateway), not BlockMismatch: verify must not say tampered."""
    remote_store = EmbeddedStore(tmp_path / "evil")
    data = kubo_random_bytes(CHUNK + 3, "evil-fallback")
    cid = remote_store.add_bytes(data).cid
    leaf = raw_cid_from_sha256(hashlib.sha256(data[CHUNK:]).digest())
    with serve(gateway_handler(remote_store, mode)) as (_, url):
        store = _fallback_store(monkeypatch, url)
        for read in (store.cat, store.verify):
            with pytest.raises(NoIntactCopy, match=leaf) as exc:
                read(cid)
            assert not isinstance(exc.value, BlockMismatch) and exc.value.mismatched == (url,)
            assert "EmbeddedStore" in str(exc.value)


def test_local_corruption_is_reported_not_hidden_by_a_gateway_copy(ipfs_home, monkeypatch, remote):
    remote_store, url = remote
    data = kubo_random_bytes(CHUNK + 7, "both")
    cid = remote_store.add_bytes(data).cid
    store = _fallback_store(monkeypatch, url)
    assert store.add_bytes(data).cid == cid
    tail = data[CHUNK:]
    [block_file] = [p for p in (ipfs_home / "ipfs" / "blocks").rglob("*") if p.is_file() and p.read_bytes() == tail]
    block_file.write_bytes(b"X" + tail[1:])
    with pytest.raises(BlockMismatch, match=raw_cid_from_sha256(hashlib.sha256(tail).digest())):
        store.cat(cid)


def test_an_unreachable_kubo_node_falls_back_to_the_gateway(ipfs_home, monkeypatch, remote):
    remote_store, url = remote
    cid = remote_store.add_bytes(b"served while the node is down").cid
    monkeypatch.setenv("PROVENANCE_IPFS_BACKEND", "kubo")
    monkeypatch.setenv("PROVENANCE_IPFS_API", "http://127.0.0.1:1")
    monkeypatch.setenv("PROVENANCE_IPFS_GATEWAYS", url)
    store = open_store(load_settings())
    primary_of(store).retry = type(primary_of(store).retry)(attempts=1)  # fail fast: nothing listens on port 1
    try:
        assert store.cat(cid) == b"served while the node is down"
    finally:
        store.close()
