"""Kill the real process at every job state; a re-run finishes with one token per file."""

from __future__ import annotations

import signal

import pytest

from provenance.ledger import Ledger

from .cli_helpers import json_out, run_cli
from .conftest import make_photo

FAILPOINTS = ["hashed", "scanned", "stored", "sent", "submitted", "confirmed"]


def _issued(parts) -> dict[int, int]:
    counts: dict[int, int] = {}
    for event in parts.chain.registry.events(parts.chain.deployment.deploy_block):
        if event.name == "CertificateIssued":
            counts[event.args["tokenId"]] = counts.get(event.args["tokenId"], 0) + 1
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("failpoint", FAILPOINTS)
def test_kill_then_rerun_finishes_exactly_once(parts, tmp_path, failpoint, batch):
    files = [make_photo(tmp_path / f"f{i}.png", seed=100 + i) for i in range(3)]
    args = ["mint", "--no-detect", "--json", "--batch", str(batch), *files]
    crashed = run_cli(*args, env={"PROVENANCE_FAILPOINT": failpoint})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    finished = run_cli(*args)
    assert finished.returncode == 0, finished.stderr
    results = json_out(finished)
    assert all("error" not in r for r in results)
    tokens = {int(r["token_id"], 16) for r in results}
    counts = _issued(parts)
    assert set(counts) == tokens and set(counts.values()) == {1}
    # The ledger equals the chain.
    ledger = Ledger.open(parts.settings.ledger_url)
    rows = ledger.certificates(parts.chain.deployment.chain_id, parts.chain.deployment.address)
    assert {int(r.content_sha256, 16) for r in rows} == tokens
    for row in rows:
        cert = parts.chain.registry.certificate(int(row.content_sha256, 16))
        assert cert.metadata_digest.hex() == row.metadata_digest
    assert {j.state for j in ledger.jobs()} == {"confirmed"}
    # A third run changes nothing.
    again = json_out(run_cli(*args))
    assert all(r["already"] for r in again) and _issued(parts) == counts
