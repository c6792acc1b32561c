"""`provenance ipfs check` with no CIDs: every certificate in a real SQLite ledger against the store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.ipfs_cmd import app as ipfs_app
from provenance.config import load_settings
from provenance.ipfs import CertificateCids, EmbeddedStore, check_certificates, cid_of_bytes, raw_cid_from_sha256
from provenance.ledger import Ledger
from tests.cli_json import result as json_result
from tests.ipfs.conftest import kubo_random_bytes
from tests.ipfs.servers import gateway_handler, serve

CHUNK = 256 * 1024
CONTRACT = "0x" + "ab" * 20

root = typer.Typer()
root.add_typer(ipfs_app, name="ipfs")


def run(*args: str):
    return CliRunner().invoke(root, ["ipfs", *args])


def add_certificates(url: str, certificates: list[dict]) -> None:
    ledger = Ledger.open(url)
    with ledger.session() as s, s.begin():
        for number, cert in enumerate(certificates):
            ledger.upsert_certificate(
                s,
                chain_id=31337,
                contract=cert.get("contract", CONTRACT),
                content_sha256=cert["sha"],
                metadata_digest="00" * 32,
                metadata_cid=cert["metadata_cid"],
                media_cid=cert["media_cid"],
                issuer="0x" + "11" * 20,
                owner="0x" + "22" * 20,
                label="real",
                score_bps=120,
                phash="0" * 16,
                pdq="0" * 64,
                issued_at=1_700_000_000 + number,
                tx_hash="0x" + "33" * 32,
                block_number=10 + number,
            )
    ledger.engine.dispose()


def certify(store: EmbeddedStore, media: bytes) -> dict:
    """Store media and its metadata as the minting pipeline does; return the ledger values."""
    sha = hashlib.sha256(media).hexdigest()
    media_cid = store.add_bytes(media).cid
    metadata_cid = store.add_json({"content_sha256": sha, "media_cid": media_cid}).cid
    return {"sha": sha, "media_cid": media_cid, "metadata_cid": metadata_cid}


def corrupt_block(home: Path, block: bytes) -> None:
    [path] = [p for p in (home / "ipfs" / "blocks").rglob("*") if p.is_file() and p.read_bytes() == block]
    path.write_bytes(bytes([block[0] ^ 0xFF]) + block[1:])


@pytest.fixture
def ledger_world(ipfs_home, store):
    """Four certificates: intact, media missing, media corrupted, media CID not recorded."""
    intact = certify(store, kubo_random_bytes(2 * CHUNK + 1, "intact"))
    missing_media = kubo_random_bytes(3000, "never-stored")
    missing = {
        "sha": hashlib.sha256(missing_media).hexdigest(),
        "media_cid": cid_of_bytes(missing_media),
        "metadata_cid": store.add_json({"media": "missing"}).cid,
    }
    damaged_media = kubo_random_bytes(CHUNK + 500, "damaged")
    damaged = certify(store, damaged_media)
    corrupt_block(ipfs_home, damaged_media[CHUNK:])
    foreign = {"sha": "cd" * 32, "media_cid": None, "metadata_cid": store.add_json({"issuer": "someone else"}).cid}
    certs = {"intact": intact, "missing": missing, "damaged": damaged, "foreign": foreign}
    add_certificates(load_settings().ledger_url, list(certs.values()))
    leaf = raw_cid_from_sha256(hashlib.sha256(damaged_media[CHUNK:]).digest())
    return certs, leaf


def test_ledger_check_lists_missing_and_corrupt_cids(ledger_world):
    certs, damaged_leaf = ledger_world
    out = run("check", "--json")
    assert out.exit_code == 1, out.stderr
    report = json_result(out.stdout)
    assert report["ok"] is False and report["certificates"] == 4 and report["unrecorded_cids"] == 1
    found = {(p["content_sha256"], p["role"], p["cid"], p["status"]) for p in report["problems"]}
    assert found == {
        (certs["missing"]["sha"], "media", certs["missing"]["media_cid"], "missing"),
        (certs["damaged"]["sha"], "media", certs["damaged"]["media_cid"], "corrupt"),
    }
    [corrupt] = [p for p in report["problems"] if p["status"] == "corrupt"]
    assert damaged_leaf in corrupt["detail"]
    by_sha = {r["content_sha256"]: r for r in report["results"]}
    assert by_sha[certs["intact"]["sha"]]["ok"] is True
    assert by_sha[certs["foreign"]["sha"]]["media"] is None
    assert by_sha[certs["foreign"]["sha"]]["metadata"]["status"] == "ok"
    assert by_sha[certs["damaged"]["sha"]]["metadata"]["status"] == "ok"


def test_ledger_check_text_names_each_problem(ledger_world):
    certs, _ = ledger_world
    out = run("check")
    assert out.exit_code == 1
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"missing  media    {certs['missing']['media_cid']}  certificate {certs['missing']['sha']}")
    assert lines[1].startswith(f"corrupt  media    {certs['damaged']['media_cid']}  certificate {certs['damaged']['sha']}")
    assert lines[2] == "4 certificate(s): 2 problem(s), 1 CID(s) not recorded in the ledger (not checked)"


def test_ledger_check_passes_when_every_cid_is_present_and_intact(ipfs_home, store):
    certs = [certify(store, kubo_random_bytes(n, f"ok-{n}")) for n in (0, 10, CHUNK + 1)]
    add_certificates(load_settings().ledger_url, certs)
    out = run("check", "--json")
    assert out.exit_code == 0, out.stdout
    report = json_result(out.stdout)
    assert report["ok"] and report["problems"] == [] and report["certificates"] == 3


def test_ledger_check_uses_the_gateway_fallback(ipfs_home, monkeypatch, tmp_path):
    remote = EmbeddedStore(tmp_path / "remote")
    certs = [certify(remote, kubo_random_bytes(CHUNK + 9, "remote-only"))]
    add_certificates(load_settings().ledger_url, certs)
    assert run("check").exit_code == 1
    with serve(gateway_handler(remote)) as (_, url):
        monkeypatch.setenv("PROVENANCE_IPFS_GATEWAYS", url)
        out = run("check", "--json")
    assert out.exit_code == 0, out.stdout
    assert json_result(out.stdout)["ok"] is True


def test_empty_ledger_is_ok(ipfs_home):
    out = run("check")
    assert (out.exit_code, out.stdout) == (0, "no certificates in the ledger\n")


def test_unreadable_ledger_is_a_one_line_error(ipfs_home):
    (ipfs_home / "ledger.db").write_bytes(b"this is not a sqlite database" * 100)
    out = run("check")
    assert out.exit_code == 1
    assert out.stderr.startswith("error: cannot open ledger") and out.stderr.count("\n") == 1


def test_each_distinct_cid_is_verified_once(store):
    class Counting:
        def __init__(self, inner):
            self.inner, self.calls = inner, []

        def verify(self, cid):
            self.calls.append(cid)
            self.inner.verify(cid)

    shared = store.add_json({"shared": True}).cid
    media = store.add_bytes(b"the same media on two contracts").cid
    certs = [CertificateCids(31337, c, "ef" * 32, media, shared) for c in (CONTRACT, "0x" + "cd" * 20)]
    counting = Counting(store)
    report = check_certificates(counting, certs)
    assert report.ok and len(report.results) == 2
    assert sorted(counting.calls) == sorted([media, shared])
