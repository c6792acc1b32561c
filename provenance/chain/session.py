"""Connecting to the configured chain and its registry deployment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from .deployments import Deployment, DeploymentBook, check_deployment
from .errors import ChainUnavailable, DeploymentError
from .keys import dev_account, load_signer
from .node import ManagedNode, rpc_answers
from .registry import Registry


@dataclass(frozen=True)
class ChainConfig:
    """The part of the settings the chain layer reads (it knows nothing else)."""

    home: Path
    rpc_url: str = ""
    contract: str = ""
    keystore: str = ""

    @property
    def book(self) -> DeploymentBook:
        return DeploymentBook(self.home / "deployments.json")

    @property
    def node(self) -> ManagedNode:
        return ManagedNode(self.home / "chain")

    @property
    def managed(self) -> bool:
        """Whether we talk to the project's own local node (where the dev key is the issuer)."""
        return not self.rpc_url


@dataclass
class ChainSession:
    w3: Web3
    url: str
    registry: Registry
    deployment: Deployment
    managed: bool


def open_web3(url: str) -> Web3:
    if not rpc_answers(url, timeout=3.0):
        raise ChainUnavailable(f"no Ethereum node answers at {url}")
    # Caching lets web3 ask eth_chainId once per session, not twice per call.
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}, cache_allowed_requests=True))


def resolve_url(config: ChainConfig) -> str:
    if config.rpc_url:
        return config.rpc_url
    status = config.node.status()
    if not status.running or not status.url:
        raise ChainUnavailable("the local chain is not running: start it with `provenance chain up`")
    return status.url


def signer_for(config: ChainConfig) -> LocalAccount:
    return load_signer(config.keystore, allow_dev_key=config.managed)


def connect(config: ChainConfig, *, signer: bool = False, w3: Web3 | None = None, url: str = "") -> ChainSession:
    """Open the chain and the verified registry deployment, optionally with the issuer's key.

    A caller that already opened the chain passes `w3` and `url` along.
    """
    url = url or resolve_url(config)
    w3 = w3 or open_web3(url)
    deployment = find_deployment(config, w3)
    account = signer_for(config) if signer else None
    return ChainSession(w3=w3, url=url, registry=Registry(w3, deployment.address, account), deployment=deployment, managed=config.managed)


def find_deployment(config: ChainConfig, w3: Web3) -> Deployment:
    chain_id = w3.eth.chain_id
    recorded = config.book.get(chain_id)
    if config.contract:
        if recorded and recorded.address.lower() == config.contract.lower():
            check_deployment(w3, recorded)
            return recorded
        if not w3.eth.get_code(Web3.to_checksum_address(config.contract)):
            raise DeploymentError(f"no contract code at {config.contract} on chain {chain_id}")
        return Deployment(chain_id, Web3.to_checksum_address(config.contract), 0, "", "", "")
    if recorded is None:
        hint = "run `provenance chain up`" if config.managed else "deploy with `provenance chain deploy` or set the contract address"
        raise DeploymentError(f"no registry deployment recorded for chain {chain_id}: {hint}")
    check_deployment(w3, recorded)
    return recorded


def ensure_local_deployment(config: ChainConfig) -> tuple[ChainSession, bool]:
    """On the managed node: deploy the registry and make the dev account its issuer if needed.

    Returns the session and whether a new deployment was made.
    """
    url = resolve_url(config)
    w3 = open_web3(url)
    try:
        deployment = find_deployment(config, w3)
    except DeploymentError:
        return deploy(config, w3, url, dev_account()), True
    return ChainSession(w3, url, Registry(w3, deployment.address, dev_account()), deployment, True), False


def deploy(config: ChainConfig, w3: Web3, url: str, account: LocalAccount) -> ChainSession:
    registry, deployment = Registry.deploy(w3, account)
    registry.grant_issuer(account.address)
    config.book.record(deployment)
    return ChainSession(w3=w3, url=url, registry=registry, deployment=deployment, managed=config.managed)
