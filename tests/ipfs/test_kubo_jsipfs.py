"""The Kubo RPC backend against a real IPFS implementation (js-ipfs 0.66.1, RPC API of Kubo).

js-ipfs is an independent UnixFS importer, so these tests also cross-check our
CIDs at the boundary sizes against another implementation.
"""

from __future__ import annotations

import warnings

import httpx
import pytest

from provenance.config import load_settings
from provenance.ipfs import BlockMismatch, NotFound, RemoteError, cid_of_bytes, open_store
from provenance.ipfs.cid import parse_cid
from provenance.ipfs.kubo import KuboStore
from tests.cli_json import result as json_result
from tests.ipfs.conftest import kubo_random_bytes, write_kubo_random
from tests.ipfs.jsipfs import JsIpfsDaemon, missing_reason

CHUNK = 256 * 1024

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    node = JsIpfsDaemon(tmp_path_factory.mktemp("jsipfs") / "repo")
    try:
        yield node.start()
    finally:
        node.stop()


@pytest.fixture
def kubo(daemon):
    with KuboStore(daemon.api_url, lookup_timeout_s=1) as store:
        yield store


def test_open_store_selects_kubo(daemon, ipfs_home, monkeypatch):
    monkeypatch.setenv("PROVENANCE_IPFS_BACKEND", "kubo")
    monkeypatch.setenv("PROVENANCE_IPFS_API", daemon.api_url)
    store = open_store(load_settings())
    try:
        assert isinstance(store, KuboStore) and store.version() == "0.18.1"
    finally:
        store.close()


def node_add(daemon, data: bytes, version: int) -> str:
    """What the node itself answers to `ipfs add --cid-version=N` (v1 implies raw leaves, as in Kubo)."""
    params = {"cid-version": str(version), "raw-leaves": str(version == 1).lower(), "only-hash": "true"}
    response = httpx.post(f"{daemon.api_url}/api/v0/add", params=params, files={"file": ("f", data)}, timeout=60)
    return response.json()["Hash"]


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
@pytest.mark.parametrize("version", [0, 1])
def test_node_computes_the_same_cids_and_returns_verified_bytes(kubo, daemon, size, version):
    data = kubo_random_bytes(size, f"kubo-{size}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no FutureWarning/ResourceWarning noise from our client
        result = kubo.add_bytes(data, cid_version=version)
    assert parse_cid(node_add(daemon, data, version)) == parse_cid(cid_of_bytes(data, version)) == parse_cid(result.cid)
    assert kubo.cat(result.cid) == data
    assert kubo.has(result.cid)
    assert result.cid in kubo.pins()


@pytest.mark.slow
def test_174_chunks_plus_one_agrees_with_the_node(kubo, daemon, tmp_path):
    path = write_kubo_random(tmp_path / "big", 174 * CHUNK + 1, "kubo-edge")
    data = path.read_bytes()
    for version in (0, 1):
        assert parse_cid(node_add(daemon, data, version)) == parse_cid(cid_of_bytes(data, version))
    result = kubo.add_file(path, cid_version=0)  # raises unless the node's CID equals ours
    kubo.verify(result.cid)


def test_pin_unpin_and_missing(kubo):
    result = kubo.add_bytes(b"pin me", pin=False)
    assert result.cid not in kubo.pins()
    kubo.pin(result.cid)
    assert result.cid in kubo.pins()
    kubo.unpin(result.cid)
    assert result.cid not in kubo.pins()
    with pytest.raises(NotFound):
        kubo.unpin(result.cid)
    absent = "bafkreie7ohywtosou76tasm7j63yigtzxe7d5zqus4zu3j6oltvgtibeom"
    assert not kubo.has(absent)
    with pytest.raises(NotFound):
        kubo.cat(absent)


class Tampering(httpx.HTTPTransport):
    """Passes requests to the real node and alters what it answers to one command."""

    def __init__(self, command: str, alter) -> None:
        super().__init__()
        self.command, self.alter = command, alter

    def handle_request(self, request):
        response = super().handle_request(request)
        if not request.url.path.endswith(self.command):
            return response
        body = response.read()
        return httpx.Response(response.status_code, content=self.alter(body))


def test_altered_block_from_the_node_is_refused_naming_the_cid(daemon, kubo):
    result = kubo.add_bytes(b"genuine media bytes")
    flip_last = Tampering("/block/get", lambda body: body[:-1] + bytes([body[-1] ^ 1]))
    with KuboStore(daemon.api_url, transport=flip_last) as lying:
        with pytest.raises(BlockMismatch, match=result.cid):
            lying.cat(result.cid)


def test_wrong_cid_from_the_node_is_refused(daemon):
    other = b'{"Name":"f","Hash":"bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e","Size":"11"}'
    with KuboStore(daemon.api_url, transport=Tampering("/add", lambda body: other)) as lying:
        with pytest.raises(RemoteError, match="addresses to"):
            lying.add_bytes(b"not hello world")


def test_car_from_embedded_store_imports_into_the_node_with_the_same_root(kubo, store, tmp_path):
    data = kubo_random_bytes(4 * CHUNK + 5, "car-to-node")
    result = store.add_bytes(data, cid_version=1)
    car = tmp_path / "x.car"
    store.export_car(result.cid, car)
    assert kubo.import_car(car) == [result.cid]
    assert result.cid in kubo.pins()
    assert kubo.cat(result.cid) == data


def test_node_error_is_a_remote_error(kubo):
    with pytest.raises(RemoteError):
        kubo._call("no/such/command")


def test_publish_sends_the_nodes_addresses_as_origins(daemon, kubo, ipfs_home, monkeypatch):
    from typer.testing import CliRunner

    from cli.ipfs_cmd import app as ipfs_app
    from tests.ipfs.servers import PinningState, pinning_handler, serve

    cid = kubo.add_bytes(b"published from our node").cid
    addresses = kubo.addresses()
    assert addresses and all("/p2p/" in a for a in addresses)
    state = PinningState(token="t0ken")
    with serve(pinning_handler(state)) as (_, url):
        monkeypatch.setenv("PROVENANCE_IPFS_BACKEND", "kubo")
        monkeypatch.setenv("PROVENANCE_IPFS_API", daemon.api_url)
        monkeypatch.setenv("PROVENANCE_PINNING_SERVICE", url)
        monkeypatch.setenv("PROVENANCE_PINNING_TOKEN", "t0ken")
        out = CliRunner().invoke(ipfs_app, ["publish", cid, "--poll-interval", "0.01", "--json"])
    assert out.exit_code == 0, out.stderr
    result = json_result(out.stdout)
    assert result["status"] == "pinned" and result["origins"] == addresses and result["note"] == ""
    assert state.requests == [{"cid": cid, "origins": addresses}]
