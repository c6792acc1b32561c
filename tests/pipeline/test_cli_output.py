"""The CLI contract on a real chain (docs/cli.md): the envelope of every kind of command, verify's
top-level status and exit code over several files, and human output for humans (ISO times, short
token ids with the full id one flag away, the certified verdict on verify's first line)."""

from __future__ import annotations

import re

from tests.cli_json import envelope

from .cli_helpers import run_cli
from .conftest import make_photo

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


def test_envelopes_of_mint_verify_show_ledger_and_sync(parts, tmp_path):
    photo = make_photo(tmp_path / "p.png", seed=81)
    stranger = make_photo(tmp_path / "q.png", seed=82)
    minted = envelope(run_cli("mint", "--no-detect", "--json", photo).stdout, "mint")
    assert (minted["ok"], minted["exit_code"], minted["status"], minted["errors"]) == (True, 0, "ok", [])
    (entry,) = minted["files"]
    token = entry["token_id"]
    assert entry["file"] == str(photo) and entry["tx_hash"] and len(token) == 66

    one = run_cli("verify", "--json", photo)
    doc = envelope(one.stdout, "verify")
    assert one.returncode == 0 and doc["status"] == "verified" == doc["files"][0]["status"]
    assert doc["files"][0]["token_id"] == token

    # Several files: the envelope's status is the one with the highest exit code, and so is the exit.
    both = run_cli("verify", "--json", photo, stranger)
    doc = envelope(both.stdout, "verify")
    assert [f["status"] for f in doc["files"]] == ["verified", "not_found"]
    assert both.returncode == 4 == doc["exit_code"] and doc["status"] == "not_found" and doc["ok"] is False
    assert doc["errors"] == []  # not_found is an answer, not an error

    shown = envelope(run_cli("show", token, "--json").stdout, "show")
    assert shown["result"]["token_id"] == token and "files" not in shown
    listed = envelope(run_cli("ledger", "list", "--json").stdout, "ledger list")
    assert [c["token_id"] for c in listed["result"]["certificates"]] == [token]
    synced = envelope(run_cli("sync", "--json").stdout, "sync")
    assert synced["ok"] and synced["result"]["to_block"] >= synced["result"]["from_block"] - 1


def test_verify_and_mint_print_for_humans(parts, tmp_path):
    photo = make_photo(tmp_path / "p.png", seed=83)
    minted = run_cli("mint", "--no-detect", photo)
    token = envelope(run_cli("verify", "--json", photo).stdout)["files"][0]["token_id"]
    short = f"{token[:6]}…{token[-4:]}"
    assert minted.returncode == 0 and short in minted.stdout and token not in minted.stdout

    human = run_cli("verify", photo)
    assert human.returncode == 0, human.stderr
    first = human.stdout.splitlines()[0]
    assert first.startswith(f"{photo}: verified") and "certified verdict: unscanned" in first
    assert f"token {short}" in human.stdout and token not in human.stdout
    issued = parts.chain.registry.certificate(int(token, 16)).issued_at
    assert str(issued) not in human.stdout and ISO.search(human.stdout)  # no bare Unix time anywhere

    whole = run_cli("verify", "--full-ids", photo)
    assert f"token {token}" in whole.stdout

    shown = run_cli("show", token)
    assert token in shown.stdout and ISO.search(shown.stdout) and str(issued) not in shown.stdout
    listed = run_cli("ledger", "list")
    assert short in listed.stdout and token not in listed.stdout
    assert token in run_cli("ledger", "list", "--full-ids").stdout


def test_a_per_file_failure_is_in_its_file_and_in_errors(parts, tmp_path):
    good = make_photo(tmp_path / "p.png", seed=84)
    junk = tmp_path / "notes.jpg"
    junk.write_text("not a picture")
    proc = run_cli("mint", "--no-detect", "--json", good, junk)
    doc = envelope(proc.stdout, "mint")
    assert proc.returncode == 1 == doc["exit_code"] and doc["status"] == "error"
    assert "token_id" in doc["files"][0] and "error" in doc["files"][1]
    (err,) = doc["errors"]
    assert err["file"] == str(junk) and err["message"] == doc["files"][1]["error"]
    assert "Traceback" not in proc.stderr and sum(line.startswith("error") or "✗" in line for line in proc.stderr.splitlines()) <= 1
