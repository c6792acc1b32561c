"""Gas of CertificateRegistry against a plain OpenZeppelin ERC721URIStorage mint.

Builds the contracts with Hardhat, starts a throwaway anvil, deploys both
contracts from the Hardhat artifacts and reads `gasUsed` from the receipts of
real transactions. Gas is deterministic for a given compiler and hardfork,
so each figure is one transaction; the baseline is measured in the same run so
the ratios hold even if the toolchain changes.

    .venv/bin/python bench/bench_gas.py [--out bench/results/gas.md]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from web3 import Web3

from provenance.chain.keys import DEV_ADMIN_PRIVATE_KEY
from provenance.chain.node import DEV_PRIVATE_KEY, EphemeralNode, anvil_binary

REPO = Path(__file__).resolve().parents[1]

COMMAND = ".venv/bin/python bench/bench_gas.py"
BATCH_SIZE = 20
GOAL_SINGLE = 110_000
GOAL_PER_BATCHED = 70_000
# The brief's baseline: `ipfs://` + a 59-character CIDv1, 66 characters in all.
BASELINE_URI = "ipfs://bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
LABEL_LIKELY_AUTHENTIC = 1


@dataclass(frozen=True)
class Figure:
    """One measured operation: total gas and how many certificates it made or moved."""

    operation: str
    gas: int
    calldata: int  # of `gas`: 16 per non-zero and 4 per zero input byte
    items: int = 1
    goal: int | None = None

    @property
    def per_item(self) -> int:
        return round(self.gas / self.items)


class Chain:
    """Deploys and sends signed transactions from the anvil dev accounts: the first one issues,
    the second one is the registry's admin (the registry refuses one account holding both roles)."""

    def __init__(self, url: str):
        self.w3 = Web3(Web3.HTTPProvider(url))
        self.account = Account.from_key(DEV_PRIVATE_KEY)
        self.admin = Account.from_key(DEV_ADMIN_PRIVATE_KEY)

    def deploy(self, artifact: dict, *args) -> object:
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        receipt = self.send(factory.constructor(*args))
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

    def send(self, call, sender=None) -> dict:
        """Sign and send a contract call; return the receipt, failing loudly on revert."""
        sender = sender or self.account
        tx = call.build_transaction({"from": sender.address, "nonce": self.w3.eth.get_transaction_count(sender.address)})
        signed = sender.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.01)
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction {tx_hash.to_0x_hex()} reverted")
        return receipt

    def gas(self, call, sender=None) -> tuple[int, int]:
        """Gas used by the transaction, and the part of it its input bytes cost."""
        receipt = self.send(call, sender)
        data = bytes(self.w3.eth.get_transaction(receipt["transactionHash"])["input"])
        return receipt["gasUsed"], sum(16 if byte else 4 for byte in data)

    def hardfork(self) -> str:
        return self.w3.provider.make_request("anvil_nodeInfo", [])["result"]["hardFork"]


def build_contracts() -> None:
    """Compile with Hardhat (under the Node 22 from npm) so the figures match the sources."""
    node = REPO / "node_modules" / ".bin" / "node"
    cli = REPO / "node_modules" / "hardhat" / "dist" / "src" / "cli.js"
    done = subprocess.run([str(node), str(cli), "build"], cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"hardhat build failed: {(done.stderr or done.stdout).strip()[-800:]}")


def load_artifact(source: str, name: str) -> dict:
    return json.loads((REPO / "artifacts" / "contracts" / source / f"{name}.json").read_text())


def fresh_holder(n: int) -> str:
    """An address that has never held a token, so its balance slot goes 0 -> 1."""
    return Web3.to_checksum_address(hashlib.sha256(f"holder-{n}".encode()).digest()[:20])


def mint_request(n: int, metadata: str = "metadata") -> tuple:
    """A realistic request: sha256 hashes as the service would submit them."""

    def sha(tag: str) -> bytes:
        return hashlib.sha256(f"{tag}-{n}".encode()).digest()

    phash = int.from_bytes(sha("phash")[:8], "big")
    return (sha("content"), sha(metadata), LABEL_LIKELY_AUTHENTIC, 1_234, phash, sha("pdq"))


REASON = "issued in error: another issuer's media"


def measure(chain: Chain) -> list[Figure]:
    me = chain.account.address
    baseline = chain.deploy(load_artifact("bench/BaselineURIStorage.sol", "BaselineURIStorage"), me)
    registry = chain.deploy(load_artifact("CertificateRegistry.sol", "CertificateRegistry"), chain.admin.address)
    chain.send(registry.functions.grantRole(registry.functions.ISSUER_ROLE().call(), me), chain.admin)

    base_mint = chain.gas(baseline.functions.mint(fresh_holder(1), 1, BASELINE_URI))
    single = chain.gas(registry.functions.mint(fresh_holder(2), mint_request(1)))
    again = chain.gas(registry.functions.mint(fresh_holder(2), mint_request(2)))
    batch = chain.gas(registry.functions.mintBatch(fresh_holder(3), [mint_request(100 + i) for i in range(BATCH_SIZE)]))

    # Transfers of tokens the benchmark account holds, to holders that have none.
    chain.send(baseline.functions.mint(me, 2, BASELINE_URI))
    base_transfer = chain.gas(baseline.functions.transferFrom(me, fresh_holder(4), 2))
    token = int.from_bytes(mint_request(3)[0], "big")
    chain.send(registry.functions.mint(me, mint_request(3)))
    transfer = chain.gas(registry.functions.transferFrom(me, fresh_holder(5), token))

    # Revocation by an admin, approval of a re-issue, and the re-issue to another new holder.
    revoke = chain.gas(registry.functions.revoke(token, REASON), chain.admin)
    approve = chain.gas(registry.functions.approveReissue(token, me, REASON), chain.admin)
    reissue = chain.gas(registry.functions.reissue(fresh_holder(6), mint_request(3, "metadata-again")))

    return [
        Figure("Baseline: ERC721URIStorage mint, 66-char URI, new holder", *base_mint),
        Figure("Certificate mint, new holder", *single, goal=GOAL_SINGLE),
        Figure("Certificate mint, holder that already has one", *again),
        Figure(f"Certificate batch of {BATCH_SIZE}, new holder", *batch, items=BATCH_SIZE, goal=GOAL_PER_BATCHED),
        Figure("Baseline: ERC721URIStorage transferFrom to new holder", *base_transfer),
        Figure("Certificate transferFrom to new holder", *transfer),
        Figure(f"Revoke by an admin ({len(REASON)}-char reason)", *revoke),
        Figure(f"Approve a re-issue (admin, {len(REASON)}-char reason)", *approve),
        Figure("Re-issue a revoked certificate to a new holder (old record to history)", *reissue),
    ]


def compiler_settings() -> str:
    """How the registry was compiled, from its Hardhat build info."""
    artifact = load_artifact("CertificateRegistry.sol", "CertificateRegistry")
    info = json.loads((REPO / "artifacts" / "build-info" / f"{artifact['buildInfoId']}.json").read_text())
    settings = info["input"]["settings"]
    optimizer = settings.get("optimizer", {})
    runs = f"optimizer {optimizer.get('runs', 200):,} runs" if optimizer.get("enabled") else "no optimizer"
    return f"solc {info['solcLongVersion']}, {runs}, EVM {settings.get('evmVersion', 'default')}"


def render(figures: list[Figure], environment: str) -> str:
    base = figures[0].gas
    lines = [
        "## Gas: CertificateRegistry vs. OpenZeppelin ERC721URIStorage",
        "",
        f"Receipt `gasUsed` of real transactions on {environment}.",
        "",
        "Baseline: a plain OpenZeppelin 5 ERC721URIStorage mint storing a 66-character `ipfs://` URI,",
        "measured in the same run. Ratio: gas per certificate over the baseline mint. Gas includes the",
        "21,000 base cost and the input bytes (calldata column), both paid once per transaction.",
        "",
        "| Operation | Gas (tx) | of which calldata | Gas per certificate | Ratio to baseline mint | Goal | Met |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for f in figures:
        goal = f"<= {f.goal:,}" if f.goal else ""
        met = ("yes" if f.per_item <= f.goal else f"no (+{f.per_item - f.goal:,})") if f.goal else ""
        lines.append(f"| {f.operation} | {f.gas:,} | {f.calldata:,} | {f.per_item:,} | {f.per_item / base:.3f} | {goal} | {met} |")
    lines += ["", "Command (from the repository root):", "", "```", COMMAND, "```", ""]
    return "\n".join(lines)


def anvil_version() -> str:
    out = subprocess.run([str(anvil_binary()), "--version"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.splitlines()[0].replace("Version:", "").split())  # "anvil 1.7.1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "gas.md")
    parser.add_argument("--no-build", action="store_true", help="use the artifacts as they are")
    args = parser.parse_args(argv)

    if not args.no_build:
        build_contracts()
    with tempfile.TemporaryDirectory() as logs, EphemeralNode(Path(logs)) as node:
        chain = Chain(node.url)
        figures = measure(chain)
        hardfork = chain.hardfork()
    environment = f"{anvil_version()} (hardfork {hardfork}); {compiler_settings()}"
    report = render(figures, environment)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
