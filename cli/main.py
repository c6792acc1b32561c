"""Entry point of the `provenance` command."""

from __future__ import annotations

import typer

from . import certs_cmd, chain_cmd, issuers_cmd, keys_cmd
from .mint_cmd import mint_command
from .reattest_cmd import reattest_command
from .reissue_cmd import approve_reissue_command
from .verify_cmd import verify_command

app = typer.Typer(
    no_args_is_help=True,
    help="Provenance: certify media on chain and verify received copies.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("mint")(mint_command)
app.command("verify")(verify_command)
app.command("reattest")(reattest_command)
app.command("show")(certs_cmd.show_command)
app.command("revoke")(certs_cmd.revoke_command)
app.command("sync")(certs_cmd.sync_command)
app.command("approve-reissue")(approve_reissue_command)
app.add_typer(certs_cmd.ledger_app, name="ledger")
app.add_typer(chain_cmd.app, name="chain")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(issuers_cmd.app, name="issuers")


def _mount_optional() -> None:
    """Sub-commands from the other areas, mounted when present."""
    try:
        from .hash_cmd import hash_command

        app.command("hash")(hash_command)
    except ImportError:
        pass
    for module, name in (("ipfs_cmd", "ipfs"), ("models_cmd", "models")):
        try:
            sub = __import__(f"cli.{module}", fromlist=["app"])
            app.add_typer(sub.app, name=name)
        except ImportError:
            pass
    try:
        from .detect_cmd import detect_command

        app.command("detect")(detect_command)
    except ImportError:
        pass


_mount_optional()


def main() -> None:
    app()
