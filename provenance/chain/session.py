"""Connecting to the configured chain and its registry deployment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import RPCEndpoint

from .deployments import Deployment, DeploymentBook, DeploymentCheck, check_deployment
from .errors import ChainUnavailable, DeploymentError
from .keys import dev_account, load_signer
from .node import ManagedNode, rpc_answers
from .registry import Registry
from .rpc import GuardedHTTPProvider


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
    def lock_dir(self) -> Path:
        """Where the per-signer transaction locks live (registry.py)."""
        return self.home / "locks"

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
    check: DeploymentCheck | None = None  # what was checked about the deployment when connecting


def open_web3(url: str) -> Web3:
    if not rpc_answers(url, timeout=3.0):
        raise ChainUnavailable(f"no Ethereum node answers at {url}")
    # Caching lets web3 ask eth_chainId once per session, not twice per call. Only that: web3 would
    # also cache blocks by number as final, and a block by number is what a reorganisation changes.
    return Web3(GuardedHTTPProvider(
        url, request_kwargs={"timeout": 30}, cache_allowed_requests=True, cacheable_requests={RPCEndpoint("eth_chainId")},
    ))


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
    check = find_deployment(config, w3)
    deployment = check.deployment
    account = signer_for(config) if signer else None
    registry = Registry(w3, deployment.address, account, lock_dir=config.lock_dir)
    return ChainSession(w3=w3, url=url, registry=registry, deployment=deployment, managed=config.managed, check=check)


def find_deployment(config: ChainConfig, w3: Web3) -> DeploymentCheck:
    """The recorded deployment, checked; an address nobody recorded is refused (fails closed)."""
    chain_id = w3.eth.chain_id
    recorded = config.book.get(chain_id)
    if config.contract:
        if recorded is None or recorded.address.lower() != config.contract.lower():
            held = f"the recorded one is {recorded.address}" if recorded else "none is recorded"
            raise DeploymentError(
                f"contract {config.contract} is not a recorded registry deployment on chain {chain_id} ({held}): "
                f"check and record it with `provenance chain trust {config.contract}`, or unset the contract setting"
            )
        return check_deployment(w3, recorded)
    if recorded is None:
        hint = "run `provenance chain up`" if config.managed else (
            "deploy with `provenance chain deploy`, or record an existing one with `provenance chain trust ADDRESS`"
        )
        raise DeploymentError(f"no registry deployment recorded for chain {chain_id}: {hint}")
    return check_deployment(w3, recorded)


def ensure_local_deployment(config: ChainConfig) -> tuple[ChainSession, bool]:
    """On the managed node: deploy the registry and make the dev account its issuer if needed.

    Returns the session and whether a new deployment was made.
    """
    url = resolve_url(config)
    w3 = open_web3(url)
    try:
        session = connect(config, w3=w3, url=url)
        session.registry = Registry(w3, session.deployment.address, dev_account(), lock_dir=config.lock_dir)
        return session, False
    except DeploymentError:
        return deploy(config, w3, url, dev_account()), True


def deploy(config: ChainConfig, w3: Web3, url: str, account: LocalAccount) -> ChainSession:
    registry, deployment = Registry.deploy(w3, account, lock_dir=config.lock_dir)
    registry.grant_issuer(account.address)
    config.book.record(deployment)
    return ChainSession(
        w3=w3, url=url, registry=registry, deployment=deployment, managed=config.managed,
        check=check_deployment(w3, deployment),
    )
