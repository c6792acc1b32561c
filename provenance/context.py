"""Opening the parts a command needs, from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from .chain import ChainSession, connect
from .chain_admin import chain_config
from .config import Settings
from .ipfs import ContentStore, open_store
from .ledger import Ledger


@dataclass
class Parts:
    settings: Settings
    chain: ChainSession
    store: ContentStore
    ledger: Ledger


def open_parts(settings: Settings, *, signer: bool = False) -> Parts:
    chain = connect(chain_config(settings), signer=signer)
    return Parts(settings=settings, chain=chain, store=open_store(settings), ledger=Ledger.open(settings.ledger_url))
