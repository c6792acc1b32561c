"""Opening the parts a command needs, from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .chain import ChainSession, connect
from .chain_admin import chain_config
from .config import Settings
from .ipfs import ContentStore, open_store
from .ledger import Ledger
from .paths import private_dir


@dataclass
class Parts:
    settings: Settings
    chain: ChainSession
    store: ContentStore
    ledger: Ledger


def prepare_home(home: Path) -> None:
    """Create `$PROVENANCE_HOME` owner-only (0700): it holds the ledger, the chain's state and
    the stored media. A home that already exists is left as its owner made it."""
    private_dir(home)


def open_parts(settings: Settings, *, signer: bool = False) -> Parts:
    prepare_home(settings.home)
    chain = connect(chain_config(settings), signer=signer)
    ledger = Ledger.open(settings.ledger_url)
    # The ledger's lookups by chain id and address see the rows of the deployment just checked (ledger/store.py).
    ledger.activate(chain.deployment)
    return Parts(settings=settings, chain=chain, store=open_store(settings), ledger=ledger)
