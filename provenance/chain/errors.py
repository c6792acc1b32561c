"""Errors of the chain layer, each with a message a user can act on."""

from ..errors import ProvenanceError


class ChainError(ProvenanceError):
    """Base class: something about the chain or the contract went wrong."""


class ChainUnavailable(ChainError):
    """The RPC endpoint does not answer."""


class NodeError(ChainError):
    """The managed local node could not be started or stopped."""


class DeploymentError(ChainError):
    """No usable deployment: none recorded, or the chain is not the one recorded."""


class KeyError_(ChainError):
    """No signing key available, or the keystore cannot be decrypted."""


class TransactionFailed(ChainError):
    """A transaction reverted or was rejected; the message names the contract error."""

    def __init__(self, message: str, error_name: str | None = None, args: tuple = ()):
        super().__init__(message)
        self.error_name = error_name
        self.error_args = args
