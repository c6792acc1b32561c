"""Starting, inspecting and stopping the local chain, as the CLI offers them."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .chain import ChainConfig, ChainError, ensure_local_deployment
from .chain.session import connect, resolve_url, open_web3, signer_for
from .config import Settings


def chain_config(settings: Settings) -> ChainConfig:
    return ChainConfig(home=settings.home, rpc_url=settings.rpc_url, contract=settings.contract, keystore=settings.keystore)


@dataclass(frozen=True)
class ChainStatus:
    url: str | None
    running: bool
    managed: bool
    chain_id: int | None = None
    block: int | None = None
    contract: str | None = None
    deploy_block: int | None = None
    issuer: str | None = None
    issuer_has_role: bool | None = None
    balance_eth: str | None = None
    problem: str | None = None
    deployed_now: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def chain_up(settings: Settings) -> ChainStatus:
    config = chain_config(settings)
    if not config.managed:
        raise ChainError("`chain up` manages the local node; rpc_url points at another chain")
    config.node.start()
    _, deployed = ensure_local_deployment(config)
    status = chain_status(settings)
    return ChainStatus(**{**status.to_dict(), "deployed_now": deployed})


def chain_deploy(settings: Settings) -> ChainStatus:
    """Deploy a new registry on the configured chain with the issuer's key, and record it."""
    from .chain import deploy

    config = chain_config(settings)
    url = resolve_url(config)
    deploy(config, open_web3(url), url, signer_for(config))
    return chain_status(settings)


def chain_down(settings: Settings) -> bool:
    return chain_config(settings).node.stop()


def chain_status(settings: Settings) -> ChainStatus:
    config = chain_config(settings)
    try:
        url = resolve_url(config)
        w3 = open_web3(url)
    except ChainError as exc:
        return ChainStatus(url=config.rpc_url or None, running=False, managed=config.managed, problem=str(exc))
    base = {"url": url, "running": True, "managed": config.managed, "chain_id": w3.eth.chain_id, "block": w3.eth.block_number}
    try:
        session = connect(config, w3=w3, url=url)
    except ChainError as exc:
        return ChainStatus(**base, problem=str(exc))
    extra: dict = {"contract": session.deployment.address, "deploy_block": session.deployment.deploy_block}
    try:
        account = signer_for(config)
    except ChainError as exc:
        return ChainStatus(**base, **extra, problem=str(exc))
    balance = w3.eth.get_balance(account.address)
    return ChainStatus(
        **base,
        **extra,
        issuer=account.address,
        issuer_has_role=session.registry.is_issuer(account.address),
        balance_eth=str(w3.from_wei(balance, "ether")),
    )
