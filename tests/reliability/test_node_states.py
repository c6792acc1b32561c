"""The local node answers reads of its recent blocks.

Another process mining a block between a read's "latest" and its execution
made anvil (started with `--prune-history` and no states kept) answer
`BlockOutOfRangeError: block height is N but requested was N-1`: two or three
`provenance mint` processes on one home failed runs on it ("tokenOfContent
failed", "mint rejected by the node"). Reading a recent block by number is the
deterministic form of that race; `anvil_reorg` needs the same states.
"""

from __future__ import annotations

import httpx
import pytest

from provenance.chain import EphemeralNode

from .harness import Home


def _call_at(url: str, block: int) -> dict:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"to": "0x" + "11" * 20, "data": "0x"}, hex(block)]}
    return httpx.post(url, json=body, timeout=10).json()


def _mine(url: str, blocks: int) -> int:
    httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": [hex(blocks)]}, timeout=10)
    reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}, timeout=10)
    return int(reply.json()["result"], 16)


def test_the_ephemeral_node_answers_reads_of_recent_blocks(tmp_path):
    with EphemeralNode(tmp_path) as node:
        head = _mine(node.url, 8)
        for back in (1, 2, 8):
            assert "result" in _call_at(node.url, head - back), back


def _genesis(url: str) -> str:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["0x0", False]}
    return httpx.post(url, json=body, timeout=10).json()["result"]["hash"]


def _latest_timestamp(url: str) -> int:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", False]}
    return int(httpx.post(url, json=body, timeout=10).json()["result"]["timestamp"], 16)


@pytest.mark.slow
def test_the_managed_chain_keeps_its_genesis_across_restarts_and_kills(tmp_path):
    """anvil gave a chain restarted from its state file a new genesis block each time (the state then held
    several block 0s and answered any of them): after two restarts, or a kill, `chain up` took the chain for
    a reset one ("state.json deleted ... --redeploy") and every command refused the registry."""
    import time

    home = Home(tmp_path / "home")
    try:
        up = home.up()
        assert up.code == 0, up.stderr
        genesis = _genesis(home.node_url)
        for restart in range(3):
            _mine(home.node_url, 2)
            time.sleep(1.3)  # anvil writes its state every second
            if restart % 2:
                assert home.kill_node()
            else:
                assert home.down().code == 0
            again = home.up()
            assert again.code == 0, again.stdout + again.stderr
            assert not again.json()["deployed_now"] and not again.json()["replaced"]
            assert _genesis(home.node_url) == genesis, restart
            status = home.cli("chain", "status", "--json")
            assert status.code == 0 and status.json()["problem"] is None, status.stdout
            head = _mine(home.node_url, 3)
            assert "result" in _call_at(home.node_url, head - 2)  # recent states kept on the managed node too
        # New blocks keep the wall clock, not the genesis clock restarted.
        _mine(home.node_url, 1)
        assert abs(_latest_timestamp(home.node_url) - time.time()) < 30
    finally:
        home.down()


@pytest.mark.slow
def test_a_state_file_that_already_holds_several_genesis_blocks_is_mended(tmp_path):
    """A home whose anvil was restarted before the fix: its state holds a block 0 per restart."""
    import json
    import subprocess
    import time

    from provenance.chain.node import anvil_binary, free_port

    home = Home(tmp_path / "home")
    try:
        assert home.up().code == 0
        genesis = _genesis(home.node_url)
        assert home.down().code == 0
        state = home.path / "chain" / "state.json"
        (home.path / "chain" / "genesis_timestamp").unlink(missing_ok=True)  # as an older version left the chain
        for _ in range(1):  # restarted the old way, without the genesis time
            port = free_port()
            proc = subprocess.Popen(
                [str(anvil_binary()), "--port", str(port), "--state", str(state), "--state-interval", "1", "--prune-history", "--silent"]
            )
            time.sleep(1.5)
            _mine(f"http://127.0.0.1:{port}", 1)
            time.sleep(1.3)
            proc.terminate()
            proc.wait(timeout=10)
        zeros = [b for b in json.loads(state.read_text())["blocks"] if int(b["header"]["number"], 16) == 0]
        assert len(zeros) > 1
        up = home.up()
        assert up.code == 0, up.stdout + up.stderr
        assert _genesis(home.node_url) == genesis
    finally:
        home.down()
