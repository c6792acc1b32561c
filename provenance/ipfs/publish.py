"""Publishing: asking a remote pinning service to keep a CID, with our node as the origin."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from provenance.config import Settings
from provenance.ipfs.cid import parse_cid
from provenance.ipfs.errors import IpfsError
from provenance.ipfs.fallback import primary_of
from provenance.ipfs.kubo import KuboStore
from provenance.ipfs.pinning import PinningService, PinStatus
from provenance.ipfs.store import ContentStore

NO_ORIGINS_EMBEDDED = (
    "no origins sent: the embedded store is not an IPFS peer, so the service must find the content "
    "elsewhere on the IPFS network (use the kubo backend, or import an exported CAR into a node)"
)


class NoPinningService(IpfsError):
    """`publish` was asked for, but no pinning service or token is configured."""


@dataclass(frozen=True)
class Publication:
    status: PinStatus
    service: str
    origins: tuple[str, ...]
    note: str = ""  # why no origins were sent, when none were

    def to_dict(self) -> dict:
        return {
            "cid": self.status.cid,
            "name": self.status.name,
            "status": self.status.status,
            "requestid": self.status.requestid,
            "service": self.service,
            "origins": list(self.origins),
            "delegates": list(self.status.delegates),
            "note": self.note,
        }


def pinning_service(settings: Settings) -> PinningService:
    """The configured service; the token is read from settings (the environment), never echoed."""
    if not settings.pinning_service:
        raise NoPinningService(
            "no pinning service configured: set pinning_service in config.toml or PROVENANCE_PINNING_SERVICE, "
            "and the token in PROVENANCE_PINNING_TOKEN"
        )
    if not settings.pinning_token:
        raise NoPinningService(f"PROVENANCE_PINNING_TOKEN is not set (needed for {settings.pinning_service})")
    return PinningService(settings.pinning_service, settings.pinning_token)


def origins_of(store: ContentStore) -> tuple[tuple[str, ...], str]:
    """Our node's multiaddrs for the service to fetch from, or none and the reason why."""
    primary = primary_of(store)
    if isinstance(primary, KuboStore):
        addresses = tuple(primary.addresses())
        return addresses, "" if addresses else f"no origins sent: the IPFS node at {primary.api_url} reports no addresses"
    return (), NO_ORIGINS_EMBEDDED


def publish(
    store: ContentStore,
    service: PinningService,
    cid: str,
    *,
    name: str = "",
    timeout_s: float = 600.0,
    poll_s: float = 1.0,
    on_status: Callable[[PinStatus], None] | None = None,
) -> Publication:
    """Pin `cid` on `service` and wait until it is pinned (raises `RemoteError` on failure or timeout)."""
    cid = str(parse_cid(cid))  # a bad CID fails here, before any node or service is asked
    origins, note = origins_of(store)
    status = service.pin_and_wait(cid, name=name, origins=list(origins), timeout_s=timeout_s, poll_s=poll_s, on_status=on_status)
    return Publication(status, service.endpoint, origins, note)
