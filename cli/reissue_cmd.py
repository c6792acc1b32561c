"""`provenance approve-reissue TOKEN`: the admin lets one issuer certify a revoked content again.

The issuer then runs `provenance mint --reissue FILE`; the revoked record stays on
chain in the token's history (docs/chain.md, "Re-issue rule").
"""

from __future__ import annotations

from typing import Optional

import typer

from provenance.config import load_settings

from .output import command_output, console


def approve_reissue_command(
    token: str = typer.Argument(..., help="Token id of the revoked certificate (0x-hex content sha256, or decimal)."),
    reason: str = typer.Option(..., help="Why the content may be certified again (recorded on chain)."),
    issuer: Optional[str] = typer.Option(None, help="The issuer allowed to re-issue it (default: the configured issuer key's address)."),
    json_out: bool = typer.Option(False, "--json", help="Print the JSON envelope (docs/cli.md)."),
) -> None:
    """Approve one issuer to re-issue a revoked certificate (admin key). The approval is used by one re-issue."""
    from provenance.chain_admin import approve_reissue
    from provenance.tokens import parse_token

    with command_output("approve-reissue", json_out) as out:
        result = approve_reissue(load_settings(), parse_token(token), reason, issuer)
        out.set_result(result)
        if out.human:
            console.print(
                f"approved {result['issuer']} to re-issue {result['token_id']} in {result['tx_hash']}; "
                f"that issuer runs `provenance mint --reissue FILE`",
                highlight=False,
                soft_wrap=True,
            )
