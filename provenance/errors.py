"""The exception types whose messages are meant for users.

The CLI prints these as one line and exits non-zero; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class ProvenanceError(Exception):
    """Base of the errors raised by the certify/verify service itself."""


def user_facing_errors() -> tuple[type[BaseException], ...]:
    from .chain.errors import ChainError
    from .config import ConfigError

    found: list[type[BaseException]] = [ProvenanceError, ChainError, ConfigError]
    try:
        from .ipfs import IpfsError

        found.append(IpfsError)
    except ImportError:
        pass
    return tuple(found)
