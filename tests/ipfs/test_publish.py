"""`provenance ipfs publish` against a spec-conformant Pinning Service API v1 server on 127.0.0.1."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from cli.ipfs_cmd import app as ipfs_app
from provenance.ipfs.publish import NO_ORIGINS_EMBEDDED
from tests.cli_json import result as json_result
from tests.ipfs.servers import PinningState, pinning_handler, serve

TOKEN = "s3cret-pinning-token"
HELLO = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"

root = typer.Typer()
root.add_typer(ipfs_app, name="ipfs")


def run(*args: str):
    return CliRunner().invoke(root, ["ipfs", *args])


@pytest.fixture
def service(ipfs_home, monkeypatch):
    state = PinningState(token=TOKEN, fail_names={"doomed"})
    with serve(pinning_handler(state)) as (_, url):
        monkeypatch.setenv("PROVENANCE_PINNING_SERVICE", url)
        monkeypatch.setenv("PROVENANCE_PINNING_TOKEN", TOKEN)
        yield state, url


def _no_token_anywhere(out) -> None:
    assert TOKEN not in out.stdout and TOKEN not in out.stderr


def test_publish_pins_and_waits_and_says_why_no_origins(service):
    state, url = service
    out = run("publish", HELLO, "--name", "cert-7", "--poll-interval", "0.01", "--json")
    assert out.exit_code == 0, out.stderr
    result = json_result(out.stdout)
    assert (result["cid"], result["name"], result["status"]) == (HELLO, "cert-7", "pinned")
    assert result["origins"] == [] and result["note"] == NO_ORIGINS_EMBEDDED
    assert result["service"] == url
    assert state.pins[result["requestid"]]["status"] == "pinned"  # the server saw it through queued and pinning
    assert state.requests == [{"cid": HELLO, "name": "cert-7"}]  # no origins key for the embedded store
    _no_token_anywhere(out)


def test_publish_text_output_names_the_request_and_the_missing_origins(service):
    out = run("publish", HELLO, "--poll-interval", "0.01")
    assert out.exit_code == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first.startswith(f"pinned {HELLO} at http://127.0.0.1:")
    assert second == NO_ORIGINS_EMBEDDED
    _no_token_anywhere(out)


def test_a_failed_pin_is_a_one_line_error(service):
    out = run("publish", HELLO, "--name", "doomed", "--poll-interval", "0.01")
    assert out.exit_code == 1
    assert out.stderr.startswith("error: pinning service") and "failed to pin" in out.stderr
    assert out.stderr.count("\n") == 1
    _no_token_anywhere(out)


def test_a_pin_still_queued_at_the_timeout_names_the_open_request(service):
    out = run("publish", HELLO, "--poll-interval", "0.2", "--timeout", "0.1")
    assert out.exit_code == 1
    [rid] = service[0].pins
    assert "did not pin" in out.stderr and rid in out.stderr


def test_a_wrong_token_is_reported_without_echoing_either_token(service, monkeypatch):
    monkeypatch.setenv("PROVENANCE_PINNING_TOKEN", "wrong-token-value")
    out = run("publish", HELLO, "--poll-interval", "0.01")
    assert out.exit_code == 1 and "401" in out.stderr
    assert "wrong-token-value" not in out.stderr + out.stdout
    _no_token_anywhere(out)


def test_a_bad_cid_fails_before_the_service_is_asked(service):
    out = run("publish", "QmNotACid")
    assert out.exit_code == 1 and out.stderr.startswith("error: ")
    assert service[0].requests == []


def test_no_service_configured_is_a_clear_error(ipfs_home):
    out = run("publish", HELLO)
    assert out.exit_code == 1
    assert out.stderr.startswith("error: no pinning service configured") and "PROVENANCE_PINNING_SERVICE" in out.stderr


def test_a_service_without_a_token_is_a_clear_error(ipfs_home, monkeypatch):
    monkeypatch.setenv("PROVENANCE_PINNING_SERVICE", "http://127.0.0.1:1")
    out = run("publish", HELLO)
    assert out.exit_code == 1 and "PROVENANCE_PINNING_TOKEN is not set" in out.stderr
