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


@pytest.mark.slow
def test_the_managed_node_answers_reads_of_recent_blocks_and_keeps_its_chain_across_restarts(tmp_path):
    home = Home(tmp_path / "home")
    try:
        up = home.up()
        assert up.code == 0, up.stderr
        head = _mine(home.node_url, 8)
        for back in (1, 2, 8):
            assert "result" in _call_at(home.node_url, head - back), back
        assert home.down().code == 0
        again = home.up()
        assert again.code == 0, again.stderr
        assert not again.json()["deployed_now"]
        assert _mine(home.node_url, 0) >= head  # the state file still holds the chain
    finally:
        home.down()
