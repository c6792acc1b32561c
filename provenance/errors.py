"""The root of every exception the project raises on purpose.

Every error the service and its parts raise for a user to read derives from
`ProvenanceError`: chain (`ChainError`), IPFS (`IpfsError`), configuration
(`ConfigError`), hashing (`HashingError`), media (`MediaError`), ledger,
metadata, scanning, and the detectors (`detect`'s exceptions too).

The contract: `str(exc)` is a message a user can act on, naming the file,
CID, token or endpoint it is about; `user_message` is that message as one
line; `exit_code` is what the CLI exits with (1 unless a subclass says
otherwise). The CLI renders these in one place (cli/output.py) as one line on
stderr with no traceback; an exception of any other type is a bug.

This module imports nothing, so every layer (detect included, which knows
nothing of chains or IPFS) can derive from it without pulling anything in.
"""

from __future__ import annotations


class ProvenanceError(Exception):
    """Base of every error meant for a user; its message says what went wrong and with what."""

    exit_code: int = 1

    @property
    def user_message(self) -> str:
        """The message on one line (a multi-line message from a library is joined with '; ')."""
        text = str(self).strip() or type(self).__name__
        return "; ".join(line.strip() for line in text.splitlines() if line.strip())
