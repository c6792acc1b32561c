"""Trust under attack, the verify side: the on-chain verdict is bound to the signed
metadata, `trusted_issuers` is a strict allowlist, an empty policy cannot pass,
and credentials in configured URLs never reach the output.

Real parts throughout: the session's anvil chain, a fresh registry per test,
the embedded IPFS store, SQLite; the CLI runs as a subprocess where its output
is what is tested.
"""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest
from eth_account import Account

from provenance.chain import OnChainLabel
from provenance.chain.keys import dev_account
from provenance.config import ConfigError, load_settings
from provenance.context import open_parts
from provenance.reattest import Reattester
from provenance.verify import Status
from provenance.verify import verifier as verifier_module
from provenance.verify.checks import ContentMatch, MetadataContentHash
from provenance.verify.policy import AllOf, EachOf
from provenance.verify.verifier import Verifier
from tests.cli_json import envelope

from .cli_helpers import json_out, run_cli


def verify(parts, path, token=None):
    return Verifier(parts).verify(path, token)


def failed(report) -> list[str]:
    return [c.name for c in report.checks if not c.passed]


class FixedScanner:
    """A detector verdict chosen by the test, so re-attestation is fast and its score exact."""

    def __init__(self, label: str, score: float):
        self.verdict = {
            "label": label,
            "score": score,
            "threshold": 0.65,
            "detectors": [{"name": "fixed", "version": "1", "score": score}],
            "faces": 0,
            "frames": [],
        }

    def scan(self, path):
        return dict(self.verdict)


# ---- 1. the on-chain verdict is bound to the signed metadata ------------------------------------


def test_verdict_changed_on_chain_without_new_metadata_is_tampered(parts, certify, photo):
    """An issuer (or admin) calls the registry's reattest with the same digest and another label."""
    (minted,) = certify(photo)  # unscanned, 0.0 in the signed metadata
    token = int(minted.token_id, 16)
    digest = parts.chain.registry.certificate(token).metadata_digest
    parts.chain.registry.reattest(token, digest, OnChainLabel.LIKELY_AUTHENTIC, 0)

    report = verify(parts, photo)
    assert report.status is Status.TAMPERED, report.to_dict()
    (binding,) = [c for c in report.checks if c.name == "verdict_binding"]
    assert not binding.passed
    assert "likely_authentic" in binding.reason and "unscanned" in binding.reason
    assert binding.details["chain"] == {"label": "likely_authentic", "score_bps": 0}
    assert binding.details["metadata"]["label"] == "unscanned"


def test_score_changed_on_chain_by_one_basis_point_is_tampered(parts, certify, photo):
    (minted,) = certify(photo)
    token = int(minted.token_id, 16)
    digest = parts.chain.registry.certificate(token).metadata_digest
    parts.chain.registry.reattest(token, digest, OnChainLabel.UNSCANNED, 1)

    report = verify(parts, photo)
    assert report.status is Status.TAMPERED
    assert failed(report) == ["verdict_binding"]


def test_legitimate_reattestation_still_verifies(parts, certify, photo):
    """The mapping verify uses is the one certify and reattest use (label, score to basis points)."""
    certify(photo)
    scanner = FixedScanner("likely_manipulated", 0.734567)
    (result,) = Reattester(parts.chain, parts.store, parts.ledger, scanner).reattest_files([photo])
    assert result.status == "reattested", result.to_dict()

    report = verify(parts, photo)
    assert report.status is Status.VERIFIED, report.to_dict()
    (binding,) = [c for c in report.checks if c.name == "verdict_binding"]
    assert binding.passed and binding.details["chain"] == {"label": "likely_manipulated", "score_bps": 7346}


def test_chain_verdict_mapping():
    from provenance.verdicts import chain_verdict

    assert chain_verdict({"label": "unscanned", "score": 0}) == (OnChainLabel.UNSCANNED, 0)
    assert chain_verdict({"label": "uncertain", "score": 0.5}) == (OnChainLabel.UNCERTAIN, 5000)
    assert chain_verdict({"label": "likely_authentic", "score": 0.123456}) == (OnChainLabel.LIKELY_AUTHENTIC, 1235)
    assert chain_verdict({"label": "likely_manipulated", "score": 1.0}) == (OnChainLabel.LIKELY_MANIPULATED, 10_000)


# ---- 2. trust is fail-closed ---------------------------------------------------------------------


def test_non_empty_trusted_issuers_is_a_strict_allowlist(parts, certify, photo):
    """The issuer holds ISSUER_ROLE, but the user trusts only someone else."""
    certify(photo)
    assert parts.chain.registry.is_issuer(dev_account().address)
    someone_else = Account.create().address
    strict = open_parts(replace(parts.settings, trusted_issuers=(someone_else,)))
    report = verify(strict, photo)
    assert report.status is Status.UNTRUSTED_ISSUER, report.to_dict()
    (trust,) = [c for c in report.checks if c.name == "issuer_trusted"]
    assert "trusted_issuers" in trust.reason and dev_account().address in trust.reason

    listed = open_parts(replace(parts.settings, trusted_issuers=(someone_else, dev_account().address.lower())))
    assert verify(listed, photo).status is Status.VERIFIED


def test_allowlisted_issuer_is_trusted_without_the_role(parts, certify, photo, admin):
    """The allowlist is the user's own trust root; the registry admin's role grants do not widen or narrow it."""
    certify(photo)
    admin.revoke_issuer(dev_account().address)
    assert verify(parts, photo).status is Status.UNTRUSTED_ISSUER
    listed = open_parts(replace(parts.settings, trusted_issuers=(dev_account().address,)))
    report = verify(listed, photo)
    assert report.status is Status.VERIFIED
    (trust,) = [c for c in report.checks if c.name == "issuer_trusted"]
    assert "no longer holds ISSUER_ROLE" in trust.reason


@pytest.mark.parametrize(
    "value",
    [
        "alice",
        "0x1234",
        "0x" + "g" * 40,
        "0x8ba1f109551Bd432803012645Ac136ddd64DBA72",  # mixed case with a wrong EIP-55 checksum (B)
        "0x8ba1f109551bd432803012645ac136ddd64dba72,not-an-address",
    ],
)
def test_malformed_trusted_issuers_is_a_config_error(tmp_path, value):
    with pytest.raises(ConfigError, match="trusted_issuers"):
        load_settings(tmp_path, {"PROVENANCE_TRUSTED_ISSUERS": value})


def test_malformed_trusted_issuers_in_config_file(tmp_path):
    (tmp_path / "config.toml").write_text('trusted_issuers = ["0x8ba1f109551bd432803012645ac136ddd64dba72", "bob.eth"]\n')
    with pytest.raises(ConfigError, match="bob.eth"):
        load_settings(tmp_path, {})


def test_well_formed_trusted_issuers_are_accepted():
    lower = "0x8ba1f109551bd432803012645ac136ddd64dba72"
    checksummed = "0x8ba1f109551bD432803012645Ac136ddd64DBA72"
    settings = load_settings(None, {"PROVENANCE_HOME": "/nonexistent", "PROVENANCE_TRUSTED_ISSUERS": f"{lower}, {checksummed}"})
    assert settings.trusted_issuers == (checksummed,)


def test_cli_rejects_malformed_trusted_issuers(parts, certify, photo):
    certify(photo)
    proc = run_cli("verify", "--json", photo, env={"PROVENANCE_TRUSTED_ISSUERS": "alice"})
    assert proc.returncode == 1, proc.stdout
    assert "Traceback" not in proc.stderr
    assert "trusted_issuers" in proc.stderr and "alice" in proc.stderr
    # --json: the envelope still comes on stdout, saying what failed
    doc = envelope(proc.stdout, "verify")
    assert (doc["ok"], doc["status"], doc["files"]) == (False, "error", [])
    assert doc["errors"][0]["type"] == "ConfigError" and "alice" in doc["errors"][0]["message"]
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_policy_that_skips_checks_cannot_verify(parts, certify, photo, monkeypatch):
    """Only the content hash and an exact content match ran: no signature, no trust. Not `verified`."""
    certify(photo)
    monkeypatch.setattr(verifier_module, "integrity_policy", lambda chain_id, contract: AllOf(MetadataContentHash()))
    monkeypatch.setattr(verifier_module, "standing_policy", lambda comparison, **_: EachOf(ContentMatch(comparison)))
    report = verify(parts, photo)
    assert report.status is Status.ERROR, report.to_dict()
    assert "issuer_signature" in report.summary and "issuer_trusted" in report.summary


def test_an_empty_policy_cannot_verify(parts, certify, photo, monkeypatch):
    certify(photo)
    monkeypatch.setattr(verifier_module, "integrity_policy", lambda chain_id, contract: AllOf())
    report = verify(parts, photo)
    assert report.status is Status.ERROR
    assert [c.name for c in report.checks if not c.passed] == ["policy"]


# ---- 3. credentials in configured URLs are never echoed ------------------------------------------


def test_redact_url():
    from provenance.config import redact_url

    assert redact_url("http://user:secret@host:5001/api") == "http://***@host:5001/api"
    assert redact_url("https://token@pin.example/psa") == "https://***@pin.example/psa"
    assert redact_url("http://127.0.0.1:5001") == "http://127.0.0.1:5001"
    assert redact_url("") == ""


def test_redact_secrets_in_text():
    from provenance.config import redact_secrets

    text = "IPFS node http://user:s3cret@10.0.0.1:5001 /block/get failed; see ipfs://bafy and postgresql://u:pw@db/x"
    out = redact_secrets(text)
    assert "s3cret" not in out and "pw@" not in out
    assert "http://***@10.0.0.1:5001" in out and "postgresql://***@db/x" in out and "ipfs://bafy" in out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_verify_never_prints_the_ipfs_api_password(parts, certify, photo):
    certify(photo)
    env = {"PROVENANCE_IPFS_BACKEND": "kubo", "PROVENANCE_IPFS_API": f"http://user:hunter2secret@127.0.0.1:{_closed_port()}"}
    as_json = run_cli("verify", "--json", photo, env=env)
    assert "hunter2secret" not in as_json.stdout + as_json.stderr
    (report,) = json_out(as_json)
    assert report["status"] == "error"
    assert "***@127.0.0.1" in str(report)  # still says which node failed
    human = run_cli("verify", photo, env=env)
    assert human.returncode == 1
    assert "hunter2secret" not in human.stdout + human.stderr


def test_report_scrubs_credentials_from_every_reason(parts, certify, photo):
    """Whatever check or lookup puts a URL in a reason, the report cannot carry its password."""
    certify(photo)
    kubo = open_parts(replace(parts.settings, ipfs_backend="kubo", ipfs_api=f"http://u:topsecret@127.0.0.1:{_closed_port()}"))
    report = verify(kubo, photo)
    assert report.status is Status.ERROR
    assert "topsecret" not in repr(report) and "topsecret" not in str(report.to_dict())


def test_verify_error_line_never_prints_the_rpc_password(home):
    """Opening the chain fails and the one-line error names the endpoint: masked."""
    url = f"http://user:rpcsecret@127.0.0.1:{_closed_port()}"
    proc = run_cli("verify", "--json", __file__, env={"PROVENANCE_RPC_URL": url})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "rpcsecret" not in proc.stdout + proc.stderr
    assert "***@127.0.0.1" in proc.stderr


@pytest.mark.parametrize(
    "args, env_key",
    [
        (("ipfs", "pins"), "PROVENANCE_IPFS_API"),
        (("chain", "status", "--json"), "PROVENANCE_RPC_URL"),
        (("chain", "status"), "PROVENANCE_RPC_URL"),
        (("show", "0x01"), "PROVENANCE_RPC_URL"),
    ],
)
def test_other_commands_never_print_a_configured_password(home, args, env_key):
    env = {"PROVENANCE_IPFS_BACKEND": "kubo", env_key: f"http://user:cmdsecret@127.0.0.1:{_closed_port()}"}
    proc = run_cli(*args, env=env)
    assert "Traceback" not in proc.stderr
    assert "cmdsecret" not in proc.stdout + proc.stderr
    assert "***@127.0.0.1" in proc.stdout + proc.stderr


# ---- 4. metadata fetched from hostile gateways --------------------------------------------------


def _gateway_parts(parts, *urls):
    """The same chain and ledger; metadata only from these gateways (nothing local)."""
    from provenance.ipfs.gateway import GatewayFetcher
    from provenance.ipfs.http import RetryPolicy

    return replace(parts, store=GatewayFetcher(urls, retry=RetryPolicy(attempts=1)))


def test_a_flooding_gateway_is_cut_off_at_the_metadata_size_and_the_next_one_verifies(parts, certify, photo):
    from tests.ipfs.servers import ServedBytes, flood_handler, gateway_handler, serve

    certify(photo)
    flood = ServedBytes()
    with serve(flood_handler(flood, total=64 << 20)) as (_, bad), serve(gateway_handler(parts.store)) as (_, good):
        alone = verify(_gateway_parts(parts, bad), photo)
        both = verify(_gateway_parts(parts, bad, good), photo)
    # The metadata is one block of at most 256 KiB: the read stops there, not at the 2 MiB block cap.
    assert alone.status is Status.ERROR, alone.to_dict()
    (integrity,) = [c for c in alone.checks if c.name == "metadata_integrity"]
    assert f"more than the {256 * 1024} bytes" in integrity.reason, integrity.reason
    assert both.status is Status.VERIFIED, both.to_dict()


def test_gateways_that_all_send_altered_metadata_make_it_unavailable_not_tampered(parts, certify, photo):
    from tests.ipfs.servers import gateway_handler, serve

    certify(photo)
    with serve(gateway_handler(parts.store, "tamper-all")) as (_, liar):
        report = verify(_gateway_parts(parts, liar), photo)
    assert report.status is Status.ERROR, report.to_dict()
    (integrity,) = [c for c in report.checks if c.name == "metadata_integrity"]
    assert "altered" in integrity.reason and liar in integrity.reason
