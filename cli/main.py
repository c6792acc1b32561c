"""Entry point of the `provenance` command.

Every command module is imported here, plainly: a command that fails to import
is a bug to see, not a command to hide. The modules import only typer, rich
and light parts of `provenance` at the top; each command imports what it
works with (web3, the ledger, torch and `detect`) inside its body, so
`provenance chain status --help` starts in well under half a second and a
command that runs no detector never loads torch (tests/test_cli_contract.py).
"""

from __future__ import annotations

import typer

from . import apikeys_cmd, certs_cmd, chain_cmd, ipfs_cmd, issuers_cmd, keys_cmd, models_cmd
from .detect_cmd import detect_command
from .hash_cmd import hash_command
from .mint_cmd import mint_command
from .reattest_cmd import reattest_command
from .reissue_cmd import approve_reissue_command
from .serve_cmd import serve_command, worker_command
from .verify_cmd import verify_command

app = typer.Typer(
    no_args_is_help=True,
    help="Provenance: certify media on chain and verify received copies. Output and exit codes: docs/cli.md.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("mint")(mint_command)
app.command("verify")(verify_command)
app.command("detect")(detect_command)
app.command("hash")(hash_command)
app.command("reattest")(reattest_command)
app.command("show")(certs_cmd.show_command)
app.command("revoke")(certs_cmd.revoke_command)
app.command("sync")(certs_cmd.sync_command)
app.command("approve-reissue")(approve_reissue_command)
app.add_typer(certs_cmd.ledger_app, name="ledger")
app.add_typer(chain_cmd.app, name="chain")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(issuers_cmd.app, name="issuers")
app.add_typer(ipfs_cmd.app, name="ipfs")
app.add_typer(models_cmd.app, name="models")
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.add_typer(apikeys_cmd.app, name="apikeys")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
