"""Re-issue after revocation (issue 16, finding 9), and the admin's acts from the command line (finding 8).

The token id is the content hash, so without a re-issue a wrongly issued, revoked certificate
would hold its content for good. The admin approves one issuer; that issuer's `mint --reissue`
certifies the content again; verify reports the new certificate and names the revoked one.
"""

from __future__ import annotations

import signal

import pytest

from provenance.chain.keys import DEV_ADMIN_ADDRESS
from provenance.chain.node import DEV_ADDRESS, DEV_PRIVATE_KEY
from provenance.indexer import sync
from provenance.ledger import Ledger
from provenance.verify.report import Status
from provenance.verify.verifier import Verifier
from tests.cli_json import error

from .cli_helpers import json_out, run_cli
from .conftest import make_photo


def _reissues(parts) -> list[int]:
    return [e.args["tokenId"] for e in parts.chain.registry.events(parts.chain.deployment.deploy_block) if e.name == "CertificateReissued"]


def _no_traceback(proc) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr


def test_revoked_content_is_certified_again_once_the_admin_approves(parts, certify, tmp_path):
    photo = make_photo(tmp_path / "p.png", seed=70)
    (first,) = certify(photo)
    token = first.token_id

    revoked = run_cli("revoke", token, "--reason", "issued in error: wrong verdict", "--admin", "--json")
    assert revoked.returncode == 0, revoked.stderr
    (note,) = parts.chain.registry.record_notes(int(token, 16), parts.chain.deployment.deploy_block)
    assert note.by == DEV_ADMIN_ADDRESS  # the admin key, not the issuer's

    # Without approval, a re-issue is refused, saying what to do.
    refused = run_cli("mint", "--reissue", "--no-detect", "--json", photo)
    assert refused.returncode == 1, refused.stdout
    _no_traceback(refused)
    (result,) = json_out(refused)
    assert "approve-reissue" in result["error"] and "revoked" in result["error"]

    approved = run_cli("approve-reissue", token, "--reason", "the issuer certifies it again", "--json")
    assert approved.returncode == 0, approved.stderr
    assert json_out(approved)["issuer"] == DEV_ADDRESS

    reissued = run_cli("mint", "--reissue", "--no-detect", "--json", photo)
    assert reissued.returncode == 0, reissued.stderr
    (again,) = json_out(reissued)
    assert again["token_id"] == token and not again["already"]
    assert again["metadata_cid"] != first.metadata_cid and again["tx_hash"] != first.tx_hash
    cert = parts.chain.registry.certificate(int(token, 16))
    assert not cert.revoked and cert.issuer == DEV_ADDRESS
    (past,) = parts.chain.registry.history(int(token, 16))
    assert past.revoked and past.metadata_digest.hex() != cert.metadata_digest.hex()

    # Verify: the new certificate, its history naming the revoked one and why.
    report = Verifier(parts).verify(photo)
    assert report.status is Status.VERIFIED, report.to_dict()
    (earlier,) = report.certificate["reissued_from"]
    assert earlier["revoked"] and earlier["revoke_reason"] == "issued in error: wrong verdict"
    assert earlier["reissue_reason"] == "the issuer certifies it again" and earlier["reissue_approved_by"] == DEV_ADMIN_ADDRESS
    assert earlier["metadata_digest"] == past.metadata_digest.hex()
    (note,) = [c for c in report.checks if c.name == "reissue_history"]
    assert note.passed and "1 revoked certificate" in note.reason

    # The ledger follows the chain: valid again, the new metadata, no stale reason.
    sync(parts.chain, parts.ledger)
    row = Ledger.open(parts.settings.ledger_url).certificate(parts.chain.deployment.chain_id, parts.chain.deployment.address, token[2:])
    assert not row.revoked and row.revoke_reason is None and row.metadata_digest == cert.metadata_digest.hex()

    # Re-running sends nothing; `show` tells the history.
    rerun = json_out(run_cli("mint", "--reissue", "--no-detect", "--json", photo))
    assert rerun[0]["already"] and _reissues(parts) == [int(token, 16)]
    shown = json_out(run_cli("show", token, "--json"))
    assert shown["history"][0]["revoked"] and not shown["revoked"]


def test_a_plain_mint_of_a_revoked_content_points_to_the_reissue(parts, certify, admin, tmp_path):
    photo = make_photo(tmp_path / "p.png", seed=71)
    (first,) = certify(photo)
    admin.revoke(int(first.token_id, 16), "issued in error")
    admin.approve_reissue(int(first.token_id, 16), DEV_ADDRESS, "certify it again")
    # Another home (a fresh ledger) knows nothing of the first mint: the chain decides.
    other = {"PROVENANCE_HOME": str(tmp_path / "other-home")}
    trusted = run_cli("chain", "trust", parts.chain.deployment.address, "--json", env=other)
    assert trusted.returncode == 0, trusted.stderr
    proc = run_cli("mint", "--no-detect", "--json", photo, env=other)
    assert proc.returncode == 1, proc.stderr
    (result,) = json_out(proc)
    assert "revoked" in result["error"] and "--reissue" in result["error"]
    assert _reissues(parts) == []


def test_approve_reissue_refusals_are_one_line_errors(parts, certify, admin, tmp_path):
    photo = make_photo(tmp_path / "p.png", seed=72)
    (first,) = certify(photo)
    valid = run_cli("approve-reissue", first.token_id, "--reason", "why not", "--json")
    assert valid.returncode == 1 and "not revoked" in error(valid.stdout)
    _no_traceback(valid)
    admin.revoke(int(first.token_id, 16), "issued in error")
    stranger = "0x000000000000000000000000000000000000dEaD"
    no_issuer = run_cli("approve-reissue", first.token_id, "--reason", "r", "--issuer", stranger)
    assert no_issuer.returncode == 1 and "ISSUER_ROLE" in no_issuer.stderr
    _no_traceback(no_issuer)
    # The issuer's key is not the admin's: as admin it is refused by the registry.
    as_issuer = run_cli("approve-reissue", first.token_id, "--reason", "r", env={"PROVENANCE_ADMIN_PRIVATE_KEY": DEV_PRIVATE_KEY})
    assert as_issuer.returncode == 1 and "AccessControlUnauthorizedAccount" in as_issuer.stderr
    _no_traceback(as_issuer)
    assert DEV_PRIVATE_KEY[2:12] not in as_issuer.stdout + as_issuer.stderr
    assert parts.chain.registry.reissue_approved_for(int(first.token_id, 16)) is None


@pytest.mark.slow
@pytest.mark.parametrize("failpoint", ["scanned", "stored", "sent", "submitted", "confirmed"])
def test_killed_reissue_finishes_on_rerun_exactly_once(parts, certify, admin, tmp_path, failpoint):
    photo = make_photo(tmp_path / "p.png", seed=73)
    (first,) = certify(photo)
    token = int(first.token_id, 16)
    admin.revoke(token, "issued in error")
    admin.approve_reissue(token, DEV_ADDRESS, "certify it again")
    args = ["mint", "--reissue", "--no-detect", "--json", photo]
    crashed = run_cli(*args, env={"PROVENANCE_FAILPOINT": failpoint})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    finished = run_cli(*args)
    assert finished.returncode == 0, finished.stderr
    (result,) = json_out(finished)
    assert result["token_id"] == first.token_id
    assert _reissues(parts) == [token]
    cert = parts.chain.registry.certificate(token)
    (past,) = parts.chain.registry.history(token)
    assert not cert.revoked and past.revoked and cert.metadata_digest != past.metadata_digest
    (job,) = Ledger.open(parts.settings.ledger_url).jobs()
    assert job.state == "confirmed" and job.metadata_digest == cert.metadata_digest.hex()
