"""The ledger and the chain agree when the chain loses blocks, is reset, or several processes send at once.

Real anvil, real `provenance` processes. A node that loses its newest blocks
(killed before it saved its state: anvil saves every second) is played with
`evm_snapshot` / `evm_revert`; a reset chain is a deleted state file.
"""

from __future__ import annotations

import subprocess

import pytest

from provenance.ledger import Ledger
from tests.cli_json import error, files

from .cli_helpers import EXE, json_out, run_cli
from .conftest import make_photo


def _rpc(w3, method: str, params: list | None = None):
    reply = w3.provider.make_request(method, params or [])
    assert "error" not in reply, reply
    return reply["result"]


def _ledger_rows(parts) -> set[int]:
    ledger = Ledger.open(parts.settings.ledger_url)
    d = parts.chain.deployment
    return {int(r.content_sha256, 16) for r in ledger.certificates(d.chain_id, d.address)}


@pytest.mark.slow
def test_a_mint_the_chain_lost_is_not_already_certified_and_a_rerun_mints_it(parts, tmp_path):
    registry = parts.chain.registry
    files = [make_photo(tmp_path / f"lost{i}.png", seed=300 + i) for i in range(2)]
    args = ["mint", "--no-detect", "--json", *files]
    snapshot = _rpc(parts.chain.w3, "evm_snapshot")
    first = json_out(run_cli(*args))
    tokens = {int(r["token_id"], 16) for r in first}
    assert len(tokens) == 2 and all(registry.certificate(t) for t in tokens)

    _rpc(parts.chain.w3, "evm_revert", [snapshot])  # the node comes back without those blocks
    assert all(registry.certificate(t) is None for t in tokens)

    # sync sees the chain lost what it had indexed: no phantom certificates in the ledger.
    synced = run_cli("sync", "--json")
    assert synced.returncode == 0, synced.stderr
    assert json_out(synced)["dropped"] == 2
    listed = json_out(run_cli("ledger", "list", "--json"))
    assert listed["certificates"] == []
    assert sorted(j["state"] for j in listed["unfinished_jobs"]) == ["stored", "stored"]

    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    results = json_out(again)
    assert not any(r["already"] for r in results)
    assert {int(r["token_id"], 16) for r in results} == tokens
    assert all(registry.certificate(t) is not None for t in tokens)
    assert _ledger_rows(parts) == tokens
    assert all(r["already"] for r in json_out(run_cli(*args)))


@pytest.mark.slow
def test_mint_does_not_call_a_lost_mint_already_certified_without_a_sync(parts, tmp_path):
    """The case from the issue: `show` says no certificate, yet `mint` said "already certified" and exited 0."""
    registry = parts.chain.registry
    photo = make_photo(tmp_path / "gone.png", seed=320)
    snapshot = _rpc(parts.chain.w3, "evm_snapshot")
    token = int(json_out(run_cli("mint", "--no-detect", "--json", photo))[0]["token_id"], 16)
    _rpc(parts.chain.w3, "evm_revert", [snapshot])
    shown = run_cli("show", hex(token))
    assert shown.returncode == 1 and "no certificate" in shown.stderr
    again = run_cli("mint", "--no-detect", "--json", photo)
    assert again.returncode == 0, again.stderr
    (result,) = json_out(again)
    assert result["already"] is False and int(result["token_id"], 16) == token
    assert registry.certificate(token) is not None


@pytest.mark.slow
def test_several_mint_processes_on_one_home_all_succeed(parts, tmp_path):
    """Two or three `provenance mint` at once share the issuer key: each transaction gets its own nonce."""
    batches = [[make_photo(tmp_path / f"p{p}_{i}.png", seed=400 + 10 * p + i) for i in range(5)] for p in range(3)]
    procs = [
        subprocess.Popen([str(EXE), "mint", "--no-detect", "--json", *files], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for files in batches
    ]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert all("error" not in r for r in files(out)), out
    tokens = {int(r["token_id"], 16) for out, _ in outputs for r in files(out)}
    assert len(tokens) == 15
    assert all(parts.chain.registry.certificate(t) is not None for t in tokens)
    assert _ledger_rows(parts) == tokens


@pytest.mark.slow
def test_chain_up_never_redeploys_silently_over_certificates_of_a_reset_chain(home, tmp_path):
    photo = make_photo(tmp_path / "reset.png", seed=500)
    try:
        up = run_cli("chain", "up", "--json")
        assert up.returncode == 0, up.stderr
        old = json_out(up)
        minted = run_cli("mint", "--no-detect", "--json", photo)
        assert minted.returncode == 0, minted.stderr
        token = json_out(minted)[0]["token_id"]
        assert run_cli("chain", "down").returncode == 0
        (home / "chain" / "state.json").unlink()

        refused = run_cli("chain", "up", "--json")
        assert refused.returncode == 1
        message = error(refused.stdout)
        assert "--redeploy" in message and "1 certificate" in message and "state.json" in message
        assert "Traceback" not in refused.stderr
        assert run_cli("show", token).returncode == 1  # nothing was deployed: no registry to read

        redeployed = run_cli("chain", "up", "--redeploy", "--json")
        assert redeployed.returncode == 0, redeployed.stderr
        new = json_out(redeployed)
        assert new["deployed_now"] and new["replaced"]
        listed = json_out(run_cli("ledger", "list", "--json"))
        assert listed["certificates"] == [] and listed["unfinished_jobs"] == []
        again = run_cli("mint", "--no-detect", "--json", photo)
        assert again.returncode == 0, again.stderr
        (result,) = json_out(again)
        assert result["already"] is False and result["token_id"] == token
        assert json_out(run_cli("show", token, "--json"))["token_id"] == token
        # The old deployment's rows are kept, under the old deployment.
        from provenance.config import load_settings

        ledger = Ledger.open(load_settings().ledger_url)
        assert len(ledger.certificates()) == 2
        assert [r.retired_at is not None for r in ledger.deployment_rows()] == [True, False]
        assert old["contract"] == new["contract"]  # same deployer, same nonce: the same address
    finally:
        run_cli("chain", "down")
