"""Starting, inspecting and stopping the local chain, as the CLI offers them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .chain import ChainConfig, ChainError, DeploymentError, deploy
from .chain.deployments import Deployment, check_deployment, trust_deployment
from .chain.keys import dev_account
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
    checks: list[str] = field(default_factory=list)  # what the deployment check compared, one line each
    replaced: str | None = None  # `chain up` deployed anew: why the recorded deployment was not usable

    def to_dict(self) -> dict:
        return asdict(self)


def _activate(settings: Settings, deployment: Deployment) -> None:
    from .ledger import Ledger

    Ledger.open(settings.ledger_url).activate(deployment)


def chain_up(settings: Settings, *, redeploy: bool = False) -> ChainStatus:
    """Start the managed node; deploy the registry when the chain has none of ours.

    When a recorded deployment is gone (the chain was reset) while the ledger holds
    certificates of it, nothing is deployed unless `redeploy`: those certificates
    would silently stop existing, and a new registry can land at the same address.
    """
    config = chain_config(settings)
    if not config.managed:
        raise ChainError("`chain up` manages the local node; rpc_url points at another chain")
    config.node.start()
    url = resolve_url(config)
    w3 = open_web3(url)
    replaced = None
    try:
        session = connect(config, w3=w3, url=url)
        deployed = False
    except DeploymentError as exc:
        if config.contract:
            raise
        recorded = config.book.get(w3.eth.chain_id)
        if recorded is not None:
            from .ledger import Ledger

            ledger = Ledger.open(settings.ledger_url)
            held = ledger.certificate_count(recorded)
            if held and not redeploy:
                raise DeploymentError(
                    f"the recorded registry {recorded.address} is not on this chain ({exc}), and the ledger holds "
                    f"{held} certificate(s) of it. If the chain was reset (for example "
                    f"{config.node.state_file} deleted), restore that file and run `provenance chain up` again; "
                    f"or run `provenance chain up --redeploy` to deploy a new registry: the old certificates stay "
                    f"in the ledger under the old deployment, listed nowhere, and `provenance mint` certifies "
                    f"the files again on the new one"
                ) from None
            # The old deployment's rows get their identity before the new one takes its place,
            # which may be the same address.
            ledger.activate(recorded)
            replaced = str(exc)
        session = deploy(config, w3, url, dev_account())
        deployed = True
    _activate(settings, session.deployment)
    status = chain_status(settings)
    return ChainStatus(**{**status.to_dict(), "deployed_now": deployed, "replaced": replaced})


def chain_deploy(settings: Settings) -> ChainStatus:
    """Deploy a new registry on the configured chain with the issuer's key, and record it."""
    config = chain_config(settings)
    url = resolve_url(config)
    session = deploy(config, open_web3(url), url, signer_for(config))
    _activate(settings, session.deployment)
    return chain_status(settings)


def chain_trust(settings: Settings, address: str, deploy_block: int | None = None) -> ChainStatus:
    """Check a registry deployment nobody recorded (code, deploy block) and record it for its chain."""
    config = chain_config(settings)
    url = resolve_url(config)
    w3 = open_web3(url)
    deployment = trust_deployment(w3, address, deploy_block)
    check_deployment(w3, deployment)
    config.book.record(deployment)
    _activate(settings, deployment)
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
    extra: dict = {
        "contract": session.deployment.address, "deploy_block": session.deployment.deploy_block,
        "checks": session.check.lines() if session.check else [],
    }
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
