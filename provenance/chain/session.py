"""Connecting to the configured chain and its registry deployment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import RPCEndpoint

from .deployments import Deployment, DeploymentBook, DeploymentCheck, check_deployment
from .errors import ChainUnavailable, DeploymentError
from .keys import ADMIN_KEY, ISSUER_KEY, dev_account, dev_admin_account, key_address, load_admin_signer, load_signer, require_separate
from .node import LOCAL_CHAIN_ID, ManagedNode, rpc_answers
from .registry import Registry
from .rpc import GuardedHTTPProvider


@dataclass(frozen=True)
class ChainConfig:
    """The part of the settings the chain layer reads (it knows nothing else)."""

    home: Path
    rpc_url: str = ""
    contract: str = ""
    keystore: str = ""  # the issuer's
    admin_keystore: str = ""  # the registry admin's

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
    return Web3(
        GuardedHTTPProvider(
            url,
            request_kwargs={"timeout": 30},
            cache_allowed_requests=True,
            cacheable_requests={RPCEndpoint("eth_chainId")},
        )
    )


def resolve_url(config: ChainConfig) -> str:
    if config.rpc_url:
        return config.rpc_url
    status = config.node.status()
    if not status.running or not status.url:
        raise ChainUnavailable("the local chain is not running: start it with `provenance chain up`")
    return status.url


def signer_for(config: ChainConfig) -> LocalAccount:
    return load_signer(config.keystore, allow_dev_key=config.managed)


def _dev_admin_allowed(config: ChainConfig, w3: Web3 | None) -> bool:
    """The public dev admin key stands in on the managed node and on any local development chain (chain id 31337)."""
    return config.managed or (w3 is not None and w3.eth.chain_id == LOCAL_CHAIN_ID)


def admin_signer_for(config: ChainConfig, w3: Web3 | None = None) -> LocalAccount:
    """The registry admin's key (keys.py): environment, admin keystore, or on a local chain the dev admin key."""
    return load_admin_signer(config.admin_keystore, allow_dev_key=_dev_admin_allowed(config, w3))


def admin_address_for(config: ChainConfig, w3: Web3 | None = None) -> str | None:
    """The configured admin key's address without a password prompt, or None when it is not known."""
    return key_address(ADMIN_KEY, config.admin_keystore, allow_dev_key=_dev_admin_allowed(config, w3))


def issuer_address_for(config: ChainConfig) -> str | None:
    """The configured issuer key's address without a password prompt, or None when it is not known."""
    return key_address(ISSUER_KEY, config.keystore, allow_dev_key=config.managed)


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
        hint = (
            "run `provenance chain up`"
            if config.managed
            else ("deploy with `provenance chain deploy`, or record an existing one with `provenance chain trust ADDRESS`")
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
        return deploy(config, w3, url, dev_account(), admin=dev_admin_account()), True


def deploy(config: ChainConfig, w3: Web3, url: str, issuer: LocalAccount | str, admin: LocalAccount | None = None) -> ChainSession:
    """Deploy a registry with the admin key, grant ISSUER_ROLE to the issuer (an account or an address), record it.

    Two accounts: the admin pays for the deployment and holds DEFAULT_ADMIN_ROLE; the issuer only
    gets ISSUER_ROLE (the registry refuses one account holding both). `admin` defaults to the
    configured admin key (`admin_signer_for`). The session's registry signs with the issuer's key
    when it was given as an account.
    """
    admin = admin or admin_signer_for(config, w3)
    issuer_address = issuer if isinstance(issuer, str) else issuer.address
    require_separate(admin.address, issuer_address)
    as_admin, deployment = Registry.deploy(w3, admin, lock_dir=config.lock_dir)
    as_admin.grant_issuer(issuer_address)
    config.book.record(deployment)
    registry = as_admin.with_signer(None if isinstance(issuer, str) else issuer)
    return ChainSession(
        w3=w3,
        url=url,
        registry=registry,
        deployment=deployment,
        managed=config.managed,
        check=check_deployment(w3, deployment),
    )


def admin_registry(config: ChainConfig, session: ChainSession) -> Registry:
    """The session's registry, signing with the admin key."""
    return session.registry.with_signer(admin_signer_for(config, session.w3))
