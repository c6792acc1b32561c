"""`provenance chain up|status|down` on a managed node under a temporary home."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from provenance.chain import DEV_ADDRESS
from tests.cli_json import result

EXE = Path(sys.executable).parent / "provenance"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_up_status_down_keeps_the_chain(home):
    try:
        assert run("chain", "status").returncode == 1
        up = run("chain", "up", "--json")
        assert up.returncode == 0, up.stderr
        first = result(up.stdout)
        assert first["deployed_now"] and first["issuer"] == DEV_ADDRESS and first["issuer_has_role"]
        assert run("chain", "down").returncode == 0
        again = result(run("chain", "up", "--json").stdout)
        assert not again["deployed_now"]
        assert again["contract"] == first["contract"]
        assert again["block"] >= first["block"]
        status = run("chain", "status", "--json")
        assert result(status.stdout)["contract"] == first["contract"]
        assert "0xac0974bec" not in status.stdout + status.stderr
    finally:
        run("chain", "down")
    assert result(run("chain", "status", "--json").stdout)["running"] is False
