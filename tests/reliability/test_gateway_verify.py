"""`verify` on a machine whose store lacks the metadata, reading it through hostile gateways.

Found by bench/bench_reliability.py: a gateway that trickles (a byte a second)
listed before an honest one took the whole 30 s metadata deadline, so the
honest gateway was never asked and a valid certificate came out `error` for
every file. Each gateway now gets a fair share of what is left of the overall
deadline.
"""

from __future__ import annotations

import pytest

from provenance.ipfs.embedded import EmbeddedStore
from tests.ipfs.servers import ServedBytes, flood_handler, gateway_handler, serve, trickle_handler

from .harness import Home, photos


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    """A chain with two certified photos, and the issuer's store to serve them from."""
    work = tmp_path_factory.mktemp("gateways")
    issuer = Home(work / "issuer")
    try:
        up = issuer.up()
        assert up.code == 0, up.stderr
        files = photos(work / "media", 2, 71_000)
        minted = issuer.cli("mint", "--no-detect", "--json", *files)
        assert minted.code == 0, minted.stderr
        yield work, issuer, up.json()["contract"], files
    finally:
        issuer.down()


def _verifier(work, issuer: Home, contract: str, name: str, gateways: list[str]) -> Home:
    home = Home(work / name, rpc_url=issuer.node_url, extra={"PROVENANCE_IPFS_GATEWAYS": ",".join(gateways)})
    trusted = home.trust(contract)
    assert trusted.code == 0, trusted.stderr
    return home


@pytest.mark.slow
def test_a_trickling_gateway_first_does_not_keep_verify_from_the_honest_one(issued):
    work, issuer, contract, files = issued
    store = EmbeddedStore(issuer.path / "ipfs")
    slow = ServedBytes()
    with serve(trickle_handler(slow, every_s=1.0, limit_s=120.0)) as (_, trickle), serve(gateway_handler(store)) as (_, honest):
        run = _verifier(work, issuer, contract, "trickle-first", [trickle, honest]).cli("verify", "--json", files[0])
    assert not run.traceback, run.stderr
    assert run.code == 0, run.stdout[-2000:]
    assert run.json()[0]["status"] == "verified"
    assert slow.requests  # the slow gateway was asked first, and given up on
    assert run.seconds < 30


@pytest.mark.slow
def test_flooding_and_lying_gateways_never_make_a_valid_certificate_tampered(issued):
    work, issuer, contract, files = issued
    store = EmbeddedStore(issuer.path / "ipfs")
    with serve(flood_handler(ServedBytes(), total=256 << 20)) as (_, flood), serve(gateway_handler(store, "tamper-all")) as (_, liar):
        run = _verifier(work, issuer, contract, "no-honest", [flood, liar]).cli("verify", "--json", *files)
    assert not run.traceback, run.stderr
    assert run.code == 1
    assert [r["status"] for r in run.json()] == ["error", "error"]
    assert run.rss_mb < 1024
    with serve(gateway_handler(store)) as (_, honest), serve(gateway_handler(store, "tamper-all")) as (_, liar):
        run = _verifier(work, issuer, contract, "liar-first", [liar, honest]).cli("verify", "--json", *files)
    assert run.code == 0, run.stdout[-2000:]
    assert [r["status"] for r in run.json()] == ["verified", "verified"]
