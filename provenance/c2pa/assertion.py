"""The Provenance assertion a minted C2PA copy carries: which on-chain certificate covers it.

Read back, it is only a hint of where to look: `verify` trusts the chain and
the issuer-signed metadata it points to, never the assertion itself (anyone
can write one).
"""

from __future__ import annotations

import re

PROVENANCE_LABEL = "org.provenance.certificate"
_HEX64 = re.compile(r"0x[0-9a-f]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def parse_provenance_assertion(data) -> dict | None:
    """The assertion's fields when well formed (token id, chain id, registry), else None."""
    if not isinstance(data, dict):
        return None
    token = data.get("token_id")
    chain_id = data.get("chain_id")
    registry = data.get("registry")
    if not (isinstance(token, str) and _HEX64.fullmatch(token)):
        return None
    if not isinstance(chain_id, int) or isinstance(chain_id, bool) or not (isinstance(registry, str) and _ADDRESS.fullmatch(registry)):
        return None
    out = {"token_id": token, "chain_id": chain_id, "registry": registry}
    for key in ("media_cid", "metadata", "original_sha256"):
        if isinstance(data.get(key), str):
            out[key] = data[key]
    return out


def token_hint(report, chain_id: int, registry: str) -> int | None:
    """The token id a file's manifest names on this deployment, or None."""
    claim = getattr(report, "provenance", None)
    if not claim or claim["chain_id"] != chain_id or claim["registry"].lower() != registry.lower():
        return None
    return int(claim["token_id"], 16)
