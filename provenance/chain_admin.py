"""Starting, inspecting and stopping the local chain, and the registry admin's acts, as the CLI offers them.

Two keys: the issuer's (mint, its own revocations and re-attestations) and the
admin's (deploy, grant and revoke issuers, revoke any certificate for abuse,
approve a re-issue). They are different accounts; the registry refuses one
account holding both roles (docs/chain.md, "Keys and roles").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from eth_utils import is_address, to_checksum_address

from .chain import ChainConfig, ChainError, DeploymentError, deploy
from .chain.deployments import Deployment, check_deployment, trust_deployment
from .chain.errors import KeyError_
from .chain.keys import dev_account, dev_admin_account
from .chain.session import (
    admin_address_for,
    admin_registry,
    admin_signer_for,
    connect,
    issuer_address_for,
    open_web3,
    resolve_url,
    signer_for,
)
from .config import Settings
from .errors import ProvenanceError


def chain_config(settings: Settings) -> ChainConfig:
    return ChainConfig(
        home=settings.home,
        rpc_url=settings.rpc_url,
        contract=settings.contract,
        keystore=settings.keystore,
        admin_keystore=settings.admin_keystore,
    )


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
    admin: str | None = None  # the configured admin key's address, when known without a password
    admin_has_role: bool | None = None
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
        session = deploy(config, w3, url, dev_account(), admin=dev_admin_account())
        deployed = True
    _activate(settings, session.deployment)
    status = chain_status(settings)
    return ChainStatus(**{**status.to_dict(), "deployed_now": deployed, "replaced": replaced})


def chain_deploy(settings: Settings, issuer: str | None = None) -> ChainStatus:
    """Deploy a new registry with the admin key, grant ISSUER_ROLE to the issuer, and record it.

    The issuer is `issuer` (an address) or the configured issuer key's address, read without
    its password when the keystore names it. The admin and the issuer must be two accounts.
    """
    config = chain_config(settings)
    url = resolve_url(config)
    w3 = open_web3(url)
    if issuer is not None:
        target = _address(issuer, "--issuer")
    else:
        target = issuer_address_for(config) or signer_for(config).address
    session = deploy(config, w3, url, target, admin=admin_signer_for(config, w3))
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
    base: dict[str, Any] = {
        "url": url,
        "running": True,
        "managed": config.managed,
        "chain_id": w3.eth.chain_id,
        "block": w3.eth.block_number,
    }
    try:
        session = connect(config, w3=w3, url=url)
    except ChainError as exc:
        return ChainStatus(**base, problem=str(exc))
    extra: dict[str, Any] = {
        "contract": session.deployment.address,
        "deploy_block": session.deployment.deploy_block,
        "checks": session.check.lines() if session.check else [],
    }
    try:
        account = signer_for(config)
    except ChainError as exc:
        return ChainStatus(**base, **extra, problem=str(exc))
    balance = w3.eth.get_balance(account.address)
    problem: str | None = None
    try:
        admin = admin_address_for(config, w3)
    except ChainError as exc:
        admin, problem = None, str(exc)
    return ChainStatus(
        **base,
        **extra,
        issuer=account.address,
        issuer_has_role=session.registry.is_issuer(account.address),
        balance_eth=str(w3.from_wei(balance, "ether")),
        admin=admin,
        admin_has_role=session.registry.is_admin(admin) if admin else None,
        problem=problem,
    )


# ---- the admin's acts ------------------------------------------------------------------------


def _address(text: str, what: str) -> str:
    if not is_address(text):
        raise ProvenanceError(f"{what} {text!r} is not an Ethereum address")
    return to_checksum_address(text)


def _admin_parts(settings: Settings):
    """The parts a command needs (chain, ledger, store) and the registry signing with the admin key."""
    from .context import open_parts

    parts = open_parts(settings)
    return parts, admin_registry(chain_config(settings), parts.chain)


def list_issuers(settings: Settings) -> dict:
    """Every account ever granted ISSUER_ROLE (numbered, active or not) and the admins, from the chain."""
    from .context import open_parts

    parts = open_parts(settings)
    registry = parts.chain.registry
    return {
        "contract": parts.chain.deployment.address,
        "issuers": [{"address": e.address, "issuer_id": e.issuer_id, "active": e.active} for e in registry.issuers()],
        "admins": registry.admins(parts.chain.deployment.deploy_block),
    }


def grant_issuer(settings: Settings, account: str) -> dict:
    """(admin) Grant ISSUER_ROLE; nothing is sent when the account holds it already."""
    account = _address(account, "issuer")
    parts, admin = _admin_parts(settings)
    if admin.is_admin(account):
        raise ProvenanceError(f"{account} is an admin of the registry: an admin is never an issuer (use another key)")
    if admin.is_issuer(account):
        return {"address": account, "active": True, "changed": False, "tx_hash": None}
    outcome = admin.grant_issuer(account)
    return {"address": account, "active": True, "changed": True, "tx_hash": outcome.tx_hash}


def revoke_issuer(settings: Settings, account: str) -> dict:
    """(admin) Revoke ISSUER_ROLE. Its certificates stay; verify calls them `untrusted_issuer` unless your
    trusted_issuers list names it."""
    account = _address(account, "issuer")
    parts, admin = _admin_parts(settings)
    if not admin.is_issuer(account):
        return {"address": account, "active": False, "changed": False, "tx_hash": None}
    outcome = admin.revoke_issuer(account)
    return {"address": account, "active": False, "changed": True, "tx_hash": outcome.tx_hash}


def admin_revoke(settings: Settings, token_id: int, reason: str) -> dict:
    """(admin) Revoke any issuer's certificate, for a reason the chain records."""
    from .indexer import sync

    if not reason.strip():
        raise ProvenanceError("a revocation needs a reason (--reason)")
    parts, admin = _admin_parts(settings)
    outcome = admin.revoke(token_id, reason)
    sync(parts.chain, parts.ledger, confirmations=settings.confirmations)
    return {"token_id": f"0x{token_id:064x}", "tx_hash": outcome.tx_hash, "revoked": True, "by": admin.signer.address}


def approve_reissue(settings: Settings, token_id: int, reason: str, issuer: str | None = None) -> dict:
    """(admin) Let one issuer certify the content of a revoked certificate again.

    The issuer defaults to the configured issuer key's address. Checked before anything is sent:
    the certificate exists and is revoked, the issuer holds ISSUER_ROLE.
    """
    from .indexer import sync

    if not reason.strip():
        raise ProvenanceError("approving a re-issue needs a reason (--reason)")
    config = chain_config(settings)
    parts, admin = _admin_parts(settings)
    target: str | None
    if issuer is not None:
        target = _address(issuer, "--issuer")
    else:
        target = issuer_address_for(config)
        if target is None:
            raise KeyError_("no issuer key configured whose address can be read: name the issuer with --issuer ADDRESS")
    token_hex = f"0x{token_id:064x}"
    cert = admin.certificate(token_id)
    if cert is None:
        raise ProvenanceError(f"no certificate with token id {token_hex}")
    if not cert.revoked:
        raise ProvenanceError(f"certificate {token_hex} is not revoked: only a revoked certificate is re-issued (revoke it first)")
    if not admin.is_issuer(target):
        raise ProvenanceError(f"{target} does not hold ISSUER_ROLE: grant it with `provenance issuers grant {target}` first")
    outcome = admin.approve_reissue(token_id, target, reason)
    sync(parts.chain, parts.ledger, confirmations=settings.confirmations)
    return {"token_id": token_hex, "issuer": target, "reason": reason, "tx_hash": outcome.tx_hash}
