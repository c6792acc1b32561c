"""The chain layer: the registry contract, its deployments, keys and the local node.

Knows nothing of media, detectors or IPFS: it moves hashes and verdict numbers.
"""

from .deployments import Deployment, DeploymentBook
from .errors import ChainError, ChainUnavailable, DeploymentError, KeyError_, NodeError, TransactionFailed
from .node import DEV_ADDRESS, LOCAL_CHAIN_ID, EphemeralNode, ManagedNode
from .registry import Certificate, MintRequest, OnChainLabel, Registry, RegistryEvent, TxOutcome, token_id_of
from .session import ChainConfig, ChainSession, connect, deploy, ensure_local_deployment, open_web3

__all__ = [
    "Certificate",
    "ChainConfig",
    "ChainError",
    "ChainSession",
    "ChainUnavailable",
    "DEV_ADDRESS",
    "Deployment",
    "DeploymentBook",
    "DeploymentError",
    "EphemeralNode",
    "KeyError_",
    "LOCAL_CHAIN_ID",
    "ManagedNode",
    "MintRequest",
    "NodeError",
    "OnChainLabel",
    "Registry",
    "RegistryEvent",
    "TransactionFailed",
    "TxOutcome",
    "connect",
    "deploy",
    "ensure_local_deployment",
    "open_web3",
    "token_id_of",
]
