"""`provenance reattest`: score certified media again and record the new verdict, with its history.

Certificates are minted without detection (`unscanned`, as `mint --no-detect`
and as before the detectors shipped); the re-attestation runs the real detector
ensemble through `provenance.scanning`, so the verdict really changes. Real
anvil chain, embedded IPFS store and SQLite ledger throughout. Setup runs in
process; the command runs as a real subprocess where it is what is tested
(every start of it loads torch and the detectors, seconds on a small machine).
"""

from __future__ import annotations

import signal

import pytest
from eth_account import Account

from provenance.chain import DEV_ADDRESS, MintRequest, OnChainLabel, Registry
from provenance.indexer import sync
from provenance.ipfs import raw_cid_from_sha256
from provenance.ledger import Ledger
from provenance.metadata import parse, recover_signer
from provenance.reattest import Reattester
from provenance.scanning import DetectorScanner, NoScanner
from provenance.verify.verifier import Verifier

from .cli_helpers import json_out, run_cli
from .conftest import make_photo

LABELS = {"likely_authentic", "uncertain", "likely_manipulated"}


@pytest.fixture(scope="module")
def scanner():
    """One loaded ensemble for the in-process tests of this module (loading it is the slow part)."""
    return DetectorScanner()


def _events(parts, name: str, token: int | None = None) -> list:
    found = [e for e in parts.chain.registry.events(parts.chain.deployment.deploy_block) if e.name == name]
    return [e for e in found if token is None or e.args.get("tokenId", e.args.get("_tokenId")) == token]


def _metadata(parts, cid: str) -> dict:
    return parse(parts.store.cat(cid))


# ---- FILE mode, end to end through the command ---------------------------------------------------


def test_reattest_file_records_new_verdict_history_and_verify_reports_it(parts, certify, tmp_path):
    photo = make_photo(tmp_path / "p.png", seed=41)
    (minted,) = certify(photo)  # unscanned, as `mint --no-detect`
    token = int(minted.token_id, 16)
    old_cid = minted.metadata_cid

    proc = run_cli("reattest", "--json", photo)
    assert proc.returncode == 0, proc.stderr
    (result,) = json_out(proc)
    assert result["file"] == str(photo) and result["token_id"] == minted.token_id
    assert result["status"] == "reattested" and result["label"] in LABELS
    assert result["tx_hash"].startswith("0x") and 0 <= result["score"] <= 1
    assert result["previous"] == {"label": "unscanned", "score": 0.0, "metadata_cid": old_cid}

    # On chain: the new verdict and digest, announced with ERC-4906 MetadataUpdate.
    cert = parts.chain.registry.certificate(token)
    assert cert.label.text == result["label"] and cert.score_bps == round(result["score"] * 10_000)
    new_cid = result["metadata_cid"]
    assert raw_cid_from_sha256(cert.metadata_digest) == new_cid != old_cid
    assert parts.chain.registry.token_uri(token) == f"ipfs://{new_cid}"
    (reattested,) = _events(parts, "CertificateReattested", token)
    assert reattested.tx_hash == result["tx_hash"]
    assert [e.tx_hash for e in _events(parts, "MetadataUpdate", token)] == [result["tx_hash"]]

    # The new metadata: same document, new detection, signed by the issuer, the old verdict in its history.
    old, new = _metadata(parts, old_cid), _metadata(parts, new_cid)
    assert new["provenance"]["detection"]["label"] == result["label"]
    assert new["provenance"]["content"] == old["provenance"]["content"]
    assert new["provenance"]["issued_at"] == old["provenance"]["issued_at"]
    assert recover_signer(new) == DEV_ADDRESS
    (entry,) = new["provenance"]["history"]
    assert (entry["label"], entry["score"], entry["metadata_cid"]) == ("unscanned", 0.0, old_cid)
    assert "history" not in old["provenance"]
    traits = {a["trait_type"]: a["value"] for a in new["attributes"]}
    assert traits["Verdict"] == result["label"]

    # The ledger follows the chain.
    (row,) = parts.ledger.certificates(parts.chain.deployment.chain_id, parts.chain.deployment.address)
    assert (row.label, row.metadata_cid, row.score_bps) == (result["label"], new_cid, cert.score_bps)

    # verify: still an exact, valid copy; the current verdict and its history.
    report = Verifier(parts).verify(photo).to_dict()
    assert report["status"] == "verified"
    assert report["certificate"]["label"] == result["label"]
    assert [h["metadata_cid"] for h in report["certificate"]["history"]] == [old_cid]
    human = run_cli("verify", photo)
    assert human.returncode == 0
    lines = [line for line in human.stdout.splitlines() if "history" in line]
    assert len(lines) == 1 and "unscanned" in lines[0] and result["label"] in human.stdout


def test_rerun_is_unchanged_and_sends_nothing(parts, certify, tmp_path, scanner):
    photo = make_photo(tmp_path / "p.png", seed=42)
    certify(photo)
    reattester = Reattester(parts.chain, parts.store, parts.ledger, scanner)
    (first,) = reattester.reattest_files([photo])
    assert first.status == "reattested", first.error
    block = parts.chain.w3.eth.block_number
    (again,) = reattester.reattest_files([photo])
    assert again.status == "unchanged" and again.tx_hash is None and again.error is None
    assert (again.label, again.score, again.metadata_cid) == (first.label, first.score, first.metadata_cid)
    assert parts.chain.w3.eth.block_number == block
    assert len(_events(parts, "CertificateReattested")) == 1


def test_cli_rerun_reports_unchanged(parts, certify, tmp_path, scanner):
    photo = make_photo(tmp_path / "p.png", seed=43)
    certify(photo)
    assert Reattester(parts.chain, parts.store, parts.ledger, scanner).reattest_files([photo])[0].status == "reattested"
    proc = run_cli("reattest", photo)
    assert proc.returncode == 0 and "unchanged" in proc.stdout, proc.stderr
    assert len(_events(parts, "CertificateReattested")) == 1


def test_history_grows_oldest_first(parts, certify, tmp_path, scanner):
    photo = make_photo(tmp_path / "p.png", seed=44)
    (minted,) = certify(photo)
    (scored,) = Reattester(parts.chain, parts.store, parts.ledger, scanner).reattest_files([photo])
    # A second change of detectors: here, back to none at all.
    (unscored,) = Reattester(parts.chain, parts.store, parts.ledger, NoScanner()).reattest_files([photo])
    assert unscored.status == "reattested" and unscored.label == "unscanned"
    history = _metadata(parts, unscored.metadata_cid)["provenance"]["history"]
    assert [(h["label"], h["metadata_cid"]) for h in history] == [
        ("unscanned", minted.metadata_cid),
        (scored.label, scored.metadata_cid),
    ]
    assert history[0]["replaced_at"] <= history[1]["replaced_at"]
    assert parts.chain.registry.certificate(int(minted.token_id, 16)).label is OnChainLabel.UNSCANNED


# ---- --all ---------------------------------------------------------------------------------------


def test_all_rescores_this_issuers_certificates_whose_media_is_stored(parts, certify, tmp_path, scanner, admin):
    files = [make_photo(tmp_path / f"f{i}.png", seed=50 + i) for i in range(3)]
    good, revoked, lost = certify(*files)
    parts.chain.registry.revoke(int(revoked.token_id, 16), "issued in error")
    parts.store.unpin(lost.media_cid)
    parts.store.gc()
    # A certificate of another issuer on the same registry is not this issuer's to re-score.
    other = Account.create()
    admin.grant_issuer(other.address)
    parts.chain.w3.eth.send_transaction({"from": DEV_ADDRESS, "to": other.address, "value": 10**18})
    foreign = MintRequest(b"\x42" * 32, b"\x43" * 32, OnChainLabel.UNSCANNED, 0, 0, b"\0" * 32)
    Registry(parts.chain.w3, parts.chain.deployment.address, other).mint(other.address, [foreign])

    proc = run_cli("reattest", "--all", "--json")
    assert proc.returncode == 0, proc.stderr
    results = {r["token_id"]: r for r in json_out(proc)}
    assert set(results) == {good.token_id, revoked.token_id, lost.token_id}
    assert results[good.token_id]["status"] == "reattested"
    assert results[good.token_id]["file"] == f"ipfs://{good.media_cid}"
    assert results[revoked.token_id]["status"] == "skipped" and "revoked" in results[revoked.token_id]["reason"]
    assert results[lost.token_id]["status"] == "skipped" and lost.media_cid in results[lost.token_id]["reason"]
    assert [e.args["tokenId"] for e in _events(parts, "CertificateReattested")] == [int(good.token_id, 16)]
    # Re-running --all sends nothing new.
    again = {r.token_id: r.status for r in Reattester(parts.chain, parts.store, parts.ledger, scanner).reattest_all()}
    assert again == {good.token_id: "unchanged", revoked.token_id: "skipped", lost.token_id: "skipped"}
    assert len(_events(parts, "CertificateReattested")) == 1


# ---- refusals and errors -------------------------------------------------------------------------


def test_revoked_certificate_is_refused(parts, certify, tmp_path):
    photo = make_photo(tmp_path / "p.png", seed=60)
    (minted,) = certify(photo)
    parts.chain.registry.revoke(int(minted.token_id, 16), "wrong file")
    sync(parts.chain, parts.ledger)  # the reason is read from the ledger's events, as `provenance revoke` leaves it
    proc = run_cli("reattest", "--json", photo)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    (result,) = json_out(proc)
    assert result["status"] == "error" and "revoked" in result["error"] and "wrong file" in result["error"]
    human = run_cli("reattest", photo)
    assert human.returncode == 1 and "revoked" in human.stderr and "Traceback" not in human.stderr
    assert _events(parts, "CertificateReattested") == []


def test_unknown_file_is_not_found_and_bad_input_is_an_error(parts, certify, tmp_path):
    certify(make_photo(tmp_path / "certified.png", seed=61))
    unknown = make_photo(tmp_path / "unknown.png", seed=62)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    proc = run_cli("reattest", "--json", junk, unknown)
    assert proc.returncode == 4, proc.stderr  # the highest: not_found (4) over error (1)
    bad, missing = json_out(proc)
    assert bad["status"] == "error" and bad["error"]
    assert missing["status"] == "not_found" and missing["token_id"] is None and missing["tx_hash"] is None
    human = run_cli("reattest", unknown)
    assert human.returncode == 4 and "no certificate" in human.stderr and "Traceback" not in human.stderr
    for args in ([], ["--all", str(unknown)]):
        usage = run_cli("reattest", *args)
        assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_certificate_of_another_issuer_is_refused(parts, certify, tmp_path, admin):
    photo = make_photo(tmp_path / "p.png", seed=63)
    certify(photo)
    other = Account.create()
    admin.grant_issuer(other.address)
    parts.chain.w3.eth.send_transaction({"from": DEV_ADDRESS, "to": other.address, "value": 10**18})
    parts.chain.registry = Registry(parts.chain.w3, parts.chain.deployment.address, other)
    (result,) = Reattester(parts.chain, parts.store, parts.ledger, NoScanner()).reattest_files([photo])
    assert result.status == "error" and DEV_ADDRESS in result.error and "issuer" in result.error


# ---- crash safety --------------------------------------------------------------------------------

FAILPOINTS = [
    "reattest_stored",  # new metadata pinned, no transaction yet
    pytest.param("reattest_scanned", marks=pytest.mark.slow),
    pytest.param("reattest_signed", marks=pytest.mark.slow),  # signed and recorded, never sent
    pytest.param("reattest_sent", marks=pytest.mark.slow),  # sent, not waited for
    pytest.param("reattest_confirmed", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("failpoint", FAILPOINTS)
def test_kill_then_rerun_finishes_without_a_second_reattest(parts, certify, tmp_path, failpoint, scanner):
    photo = make_photo(tmp_path / "p.png", seed=70)
    (minted,) = certify(photo)
    token = int(minted.token_id, 16)
    crashed = run_cli("reattest", "--json", photo, env={"PROVENANCE_FAILPOINT": failpoint})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    ledger = Ledger.open(parts.settings.ledger_url)
    (job,) = ledger.reattest_jobs()
    if failpoint == "reattest_stored":
        # Pinned, and nothing on chain yet.
        assert job.metadata_cid in parts.store.pins()
        assert parts.chain.registry.certificate(token).label is OnChainLabel.UNSCANNED
        assert _events(parts, "CertificateReattested") == []
    pinned = job.metadata_cid

    finished = run_cli("reattest", "--json", photo)
    assert finished.returncode == 0, finished.stderr
    (result,) = json_out(finished)
    expected = "unchanged" if failpoint == "reattest_confirmed" else "reattested"
    assert result["status"] == expected
    if pinned is not None:  # the rerun finishes the job with the metadata already pinned
        assert result["metadata_cid"] == pinned
    (event,) = _events(parts, "CertificateReattested", token)
    cert = parts.chain.registry.certificate(token)
    assert raw_cid_from_sha256(cert.metadata_digest) == result["metadata_cid"]
    assert cert.label.text == result["label"] != "unscanned"
    assert {j.state for j in ledger.reattest_jobs()} == {"confirmed"}
    (row,) = ledger.certificates(parts.chain.deployment.chain_id, parts.chain.deployment.address)
    assert (row.label, row.metadata_cid) == (result["label"], result["metadata_cid"])

    (again,) = Reattester(parts.chain, parts.store, ledger, scanner).reattest_files([photo])
    assert again.status == "unchanged"
    assert len(_events(parts, "CertificateReattested", token)) == 1


def test_recorded_transaction_whose_nonce_was_spent_is_signed_again(parts, certify, tmp_path, scanner):
    """A job signed and recorded, never sent, and its nonce then taken by another transaction: the recorded
    transaction can never be mined, so the re-run signs a new one (and only then sends)."""
    photo = make_photo(tmp_path / "p.png", seed=71)
    (minted,) = certify(photo)
    token = int(minted.token_id, 16)
    reattester = Reattester(parts.chain, parts.store, parts.ledger, scanner)
    cert = parts.chain.registry.certificate(token)
    doc, cid = reattester._current_metadata(cert)
    previous = {"label": "unscanned", "score": 0.0, "metadata_cid": cid}
    job = parts.ledger.create_reattest_job(
        parts.chain.deployment.chain_id,
        parts.chain.deployment.address,
        minted.content_sha256,
        cert.metadata_digest.hex(),
        previous,
        scanner.scan(photo),
    )
    job = reattester._sign(reattester._store(job, doc), token)
    spend = parts.chain.w3.eth.send_transaction({"from": DEV_ADDRESS, "to": DEV_ADDRESS, "value": 1})  # spends its nonce
    parts.chain.w3.eth.wait_for_transaction_receipt(spend)  # mined before the count is read (anvil may answer first)
    assert parts.chain.registry.mined_nonce() > job.tx_nonce

    (result,) = reattester.reattest_files([photo])
    assert result.status == "reattested", result.error
    assert result.tx_hash != job.tx_hash and result.metadata_cid == job.metadata_cid
    assert [e.tx_hash for e in _events(parts, "CertificateReattested", token)] == [result.tx_hash]
    assert not parts.chain.registry.transaction_known(job.tx_hash)


def test_history_is_optional_and_checked_by_the_schema(parts, certify, tmp_path):
    from provenance.metadata import MetadataError, reattested, validate

    (minted,) = certify(make_photo(tmp_path / "p.png", seed=72))
    doc = _metadata(parts, minted.metadata_cid)
    validate(doc)  # a document without history, as every certificate before re-attestation
    detection = {**doc["provenance"]["detection"], "label": "likely_manipulated", "score": 0.9}
    nxt = reattested(doc, detection, minted.metadata_cid, "2026-01-02T03:04:05Z")
    assert "signature" not in nxt["provenance"]
    validate(nxt)
    assert {a["trait_type"]: a["value"] for a in nxt["attributes"]}["Verdict"] == "likely_manipulated"
    del nxt["provenance"]["history"][0]["metadata_cid"]
    with pytest.raises(MetadataError, match="history"):
        validate(nxt)
