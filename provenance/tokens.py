"""Token ids as users type them: decimal or 0x-hex (the content sha256).

A module of its own, importing nothing heavy: `show`, `revoke` and
`approve-reissue` parse a token id without loading the verifier (and, through
media hashing, torch).
"""

from __future__ import annotations

from .errors import ProvenanceError


def parse_token(text: str) -> int:
    """A token id as decimal or 0x-hex (the content sha256)."""
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        raise ProvenanceError(f"token id {text!r} is neither decimal nor 0x-hex") from None
    if not 0 < value < 2**256:
        raise ProvenanceError(f"token id {text!r} is out of range")
    return value
