"""Where the registry is deployed, per chain, and the check that it still is.

A deployment is recorded with the chain id, the genesis hash and the deploy
block's hash, so a reset local chain, or another chain answering on the same
URL, is reported instead of being read as if it held our certificates.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from web3 import Web3

from .errors import DeploymentError


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    address: str
    deploy_block: int
    deploy_block_hash: str
    genesis_hash: str
    deployer: str

    def to_dict(self) -> dict:
        return asdict(self)


class DeploymentBook:
    """The `deployments.json` file under the user's home: chain id -> Deployment."""

    def __init__(self, path: Path):
        self.path = path

    def _read(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError) as exc:
            raise DeploymentError(f"cannot read {self.path}: {exc}") from None

    def get(self, chain_id: int) -> Deployment | None:
        entry = self._read().get(str(chain_id))
        return Deployment(**entry) if entry else None

    def record(self, deployment: Deployment) -> None:
        data = self._read()
        data[str(deployment.chain_id)] = deployment.to_dict()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Write-then-rename: a crash leaves the old book, never half a file.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".deployments.")
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)


def genesis_hash(w3: Web3) -> str:
    return w3.eth.get_block(0)["hash"].to_0x_hex()


def check_deployment(w3: Web3, deployment: Deployment) -> None:
    """Raise DeploymentError unless the chain at `w3` is the one recorded."""
    chain_id = w3.eth.chain_id
    if chain_id != deployment.chain_id:
        raise DeploymentError(f"chain id is {chain_id}, the deployment was recorded on {deployment.chain_id}")
    if genesis_hash(w3) != deployment.genesis_hash:
        raise DeploymentError(
            f"the chain at this RPC URL is not the one the contract was deployed on "
            f"(genesis {genesis_hash(w3)[:12]}..., recorded {deployment.genesis_hash[:12]}...)"
        )
    block = w3.eth.get_block(deployment.deploy_block) if w3.eth.block_number >= deployment.deploy_block else None
    if block is None or block["hash"].to_0x_hex() != deployment.deploy_block_hash:
        raise DeploymentError(
            f"block {deployment.deploy_block} is not the recorded deploy block: the chain was reset or reorganised"
        )
    if not w3.eth.get_code(Web3.to_checksum_address(deployment.address)):
        raise DeploymentError(f"no contract code at {deployment.address}")
