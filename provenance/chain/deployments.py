"""Where the registry is deployed, per chain, and the checks that it still is.

A deployment is recorded with the chain id, the genesis hash and the deploy
block's hash. Every connection checks all of them and the code at the address
(its keccak against the compiled CertificateRegistry's runtime code), so a
reset local chain, another chain answering on the same URL, or other code at
the address is reported instead of being read as if it held our certificates.
An address nobody recorded is refused: `trust_deployment` checks it and finds
its deploy block, and only then can it be recorded.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eth_utils import keccak
from web3 import Web3
from web3.types import BlockIdentifier

from ..paths import private_dir
from .artifact import load_artifact
from .errors import DeploymentError

# The constructor grants DEFAULT_ADMIN_ROLE (bytes32 0): the first event any deployment emits.
_ROLE_GRANTED = keccak(text="RoleGranted(bytes32,address,address)")
_ADMIN_ROLE = b"\0" * 32


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

    @property
    def identity(self) -> tuple[int, str, str, str]:
        """What makes two deployments the same one: chain id, genesis hash, address, deploy block hash."""
        return (self.chain_id, self.genesis_hash, self.address.lower(), self.deploy_block_hash)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class DeploymentCheck:
    """What was checked about a deployment, each check with what it found."""

    deployment: Deployment
    recorded: bool  # found in the deployments book (an unrecorded address is never used)
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.recorded and bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def reason(self) -> str:
        failed = [c for c in self.checks if not c.passed]
        if failed:
            return "; ".join(c.detail for c in failed)
        if not self.recorded:
            return f"{self.deployment.address} is not a recorded registry deployment"
        return f"registry {self.deployment.address} is the recorded deployment: " + "; ".join(c.detail for c in self.checks)

    def lines(self) -> list[str]:
        return [f"{c.name}: {'ok' if c.passed else 'FAILED'}: {c.detail}" for c in self.checks]


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
        private_dir(self.path.parent)
        # Write-then-rename: a crash leaves the old book, never half a file.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".deployments.")
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)


def genesis_hash(w3: Web3) -> str:
    return w3.eth.get_block(0)["hash"].to_0x_hex()


def runtime_code_hash() -> str:
    return "0x" + keccak(hexstr=load_artifact().runtime).hex()


def _short(value: str) -> str:
    return value[:12] + "..." if len(value) > 14 else value


def inspect_deployment(w3: Web3, deployment: Deployment) -> DeploymentCheck:
    """Run every check on a recorded deployment; each says what it compared."""
    checks: list[Check] = []
    chain_id = w3.eth.chain_id
    checks.append(
        Check(
            "chain id",
            chain_id == deployment.chain_id,
            f"chain id {chain_id}"
            if chain_id == deployment.chain_id
            else f"chain id is {chain_id}, the deployment was recorded on {deployment.chain_id}",
        )
    )
    genesis = genesis_hash(w3)
    same_genesis = genesis == deployment.genesis_hash
    checks.append(
        Check(
            "genesis",
            same_genesis,
            f"genesis {_short(genesis)}"
            if same_genesis
            else f"the chain at this RPC URL is not the one the contract was deployed on "
            f"(genesis {_short(genesis)}, recorded {_short(deployment.genesis_hash)})",
        )
    )
    head = w3.eth.block_number
    block = w3.eth.get_block(deployment.deploy_block) if head >= deployment.deploy_block else None
    found = block["hash"].to_0x_hex() if block is not None else None
    checks.append(
        Check(
            "deploy block",
            found == deployment.deploy_block_hash,
            f"deploy block {deployment.deploy_block} hash {_short(deployment.deploy_block_hash)}"
            if found == deployment.deploy_block_hash
            else f"block {deployment.deploy_block} is not the recorded deploy block "
            f"({'hash ' + _short(found) if found else 'the chain is only ' + str(head) + ' blocks long'}, "
            f"recorded {_short(deployment.deploy_block_hash)}): the chain was reset or reorganised",
        )
    )
    checks.append(_code_check(w3, deployment.address))
    return DeploymentCheck(deployment=deployment, recorded=True, checks=tuple(checks))


def _code_check(w3: Web3, address: str) -> Check:
    code = bytes(w3.eth.get_code(Web3.to_checksum_address(address)))
    expected = runtime_code_hash()
    if not code:
        return Check("runtime code", False, f"no contract code at {address}")
    got = "0x" + keccak(code).hex()
    if got != expected:
        return Check(
            "runtime code",
            False,
            f"the runtime code at {address} is not the compiled {load_artifact().name} (keccak {_short(got)}, expected {_short(expected)})",
        )
    return Check("runtime code", True, f"runtime code keccak {_short(got)} equals the compiled {load_artifact().name}")


def check_deployment(w3: Web3, deployment: Deployment) -> DeploymentCheck:
    """All checks of `inspect_deployment`; raise DeploymentError naming what failed."""
    result = inspect_deployment(w3, deployment)
    if not result.passed:
        raise DeploymentError(result.reason)
    return result


def trust_deployment(w3: Web3, address: str, deploy_block: int | None = None) -> Deployment:
    """Check an address nobody recorded and return the Deployment to record for it.

    Its code must be the compiled registry's runtime code, and its deploy block is
    where it emitted its first event (the constructor's admin RoleGranted): looked
    up from block 0, or only in `deploy_block` when given (providers that refuse
    log queries over the whole chain).
    """
    address = Web3.to_checksum_address(address)
    code = _code_check(w3, address)
    if not code.passed:
        raise DeploymentError(code.detail)
    start = 0 if deploy_block is None else deploy_block
    end: BlockIdentifier = "latest" if deploy_block is None else deploy_block
    logs = w3.eth.get_logs(
        {
            "address": address,
            "fromBlock": start,
            "toBlock": end,
            "topics": ["0x" + _ROLE_GRANTED.hex(), "0x" + _ADMIN_ROLE.hex()],
        }
    )
    if not logs:
        where = f"in block {deploy_block}" if deploy_block is not None else "on this chain"
        raise DeploymentError(
            f"cannot find the deploy block of {address} {where}: no constructor event "
            f"(code placed there without a deployment, or the wrong --deploy-block)"
        )
    first = logs[0]
    block = w3.eth.get_block(first["blockNumber"])
    tx = w3.eth.get_transaction(first["transactionHash"])
    return Deployment(
        chain_id=w3.eth.chain_id,
        address=address,
        deploy_block=first["blockNumber"],
        deploy_block_hash=block["hash"].to_0x_hex(),
        genesis_hash=genesis_hash(w3),
        deployer=tx["from"],
    )
