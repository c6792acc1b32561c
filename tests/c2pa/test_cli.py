"""The C2PA parts of the real `provenance` command: keys cert, mint --c2pa-out, verify and detect sections."""

from __future__ import annotations

import json
import os
import stat

from tests.pipeline.cli_helpers import run_cli

from .conftest import PASSWORD


def json_out(proc) -> list | dict:
    """`--json` output: the envelope's `files` or `result` (docs/cli.md); a bare per-file object becomes a list."""
    doc = json.loads(proc.stdout)
    if isinstance(doc, dict) and "schema_version" in doc:
        return doc["files"] if "files" in doc else doc["result"]
    if isinstance(doc, dict) and "files" in doc:
        return doc["files"]
    return [doc] if isinstance(doc, dict) and "file" in doc else doc


def test_keys_cert_then_mint_copy_then_verify(parts, photo, tmp_path, home, monkeypatch):
    monkeypatch.setenv("PROVENANCE_C2PA_KEY_PASSWORD", PASSWORD)
    made = run_cli("keys", "cert", "--json")
    assert made.returncode == 0, made.stderr
    result = json_out(made)
    assert stat.S_IMODE(os.stat(result["key"]).st_mode) == 0o600
    assert PASSWORD not in made.stdout + made.stderr
    again = run_cli("keys", "cert")
    assert again.returncode == 1 and "--force" in again.stderr and "Traceback" not in again.stderr

    out = tmp_path / "c2pa"
    minted = run_cli("mint", str(photo), "--no-detect", "--c2pa-out", str(out), "--generator", '{"model": "m1"}', "--json")
    assert minted.returncode == 0, minted.stderr
    [entry] = json_out(minted)
    copy = out / photo.name
    assert entry["c2pa_copy"] == str(copy) and copy.exists()

    checked = run_cli("verify", str(copy), "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    [report] = json_out(checked)
    assert report["status"] == "verified" and report["token_id"] == entry["token_id"]
    assert report["c2pa"]["present"] and report["c2pa"]["generative"]
    assert [c["code"] for c in report["c2pa"]["validation_codes"] if c["kind"] == "failure"] == ["signingCredential.untrusted"]

    human = run_cli("verify", str(copy))
    assert human.returncode == 0
    line = next(line for line in human.stdout.splitlines() if "C2PA:" in line)
    assert "Valid" in line and "untrusted signer" in line and "DECLARED GENERATIVE SOURCE: trainedAlgorithmicMedia" in line

    # Re-running finds the certificate already made: no new copy, and it says so.
    rerun = run_cli("mint", str(photo), "--no-detect", "--c2pa-out", str(out))
    assert rerun.returncode == 0 and "no C2PA copy" in rerun.stdout


def test_mint_c2pa_out_without_certificate_is_one_line(parts, photo, tmp_path):
    proc = run_cli("mint", str(photo), "--no-detect", "--c2pa-out", str(tmp_path / "c2pa"))
    assert proc.returncode == 1 and "provenance keys cert" in proc.stderr and "Traceback" not in proc.stderr


def test_verify_reports_c2pa_beside_not_found(parts, samples):
    """An uncertified file carrying a broken manifest: the status is the certificate's, the C2PA section stands beside it."""
    proc = run_cli("verify", str(samples / "E-sig-CA.jpg"), "--json")
    [report] = json_out(proc)
    assert report["status"] == "not_found" and proc.returncode == 4
    assert report["c2pa"]["validation_state"] == "Invalid"
    assert "claimSignature.mismatch" in [c["code"] for c in report["c2pa"]["validation_codes"]]
    human = run_cli("verify", str(samples / "cloud.jpg"))
    assert human.returncode == 4 and "C2PA: unavailable" in human.stdout


def test_detect_json_has_the_c2pa_section(samples, home):
    proc = run_cli("detect", str(samples / "C.jpg"), str(samples / "no_manifest.jpg"), "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    files = {os.path.basename(f["file"]): f for f in json_out(proc)}
    assert files["C.jpg"]["c2pa"]["validation_state"] == "Valid" and "score" in files["C.jpg"]
    assert files["no_manifest.jpg"]["c2pa"]["state"] == "absent"
