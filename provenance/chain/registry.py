"""A typed client of the CertificateRegistry contract on web3.py."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Sequence

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils import keccak
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, TransactionNotFound, Web3RPCError
from web3.logs import DISCARD

from .artifact import load_artifact
from .deployments import Deployment, genesis_hash
from .errors import ChainError, TransactionFailed
from .locks import NoLock, SignerLock

ISSUER_ROLE = keccak(text="ISSUER_ROLE")
ADMIN_ROLE = b"\0" * 32  # AccessControl's DEFAULT_ADMIN_ROLE
RECEIPT_TIMEOUT_S = 120
_TOKEN_OF_CONTENT = keccak(text="tokenOfContent(bytes32)")[:4]
_CERTIFICATE_ISSUED = keccak(text="CertificateIssued(uint256,address,address,bytes32,uint8,uint16,uint64,bytes32,uint40)")
_CERTIFICATE_REISSUED = keccak(
    text="CertificateReissued(uint256,address,address,bytes32,uint8,uint16,uint64,bytes32,uint40,uint256)"
)
_CERTIFICATE_REVOKED = keccak(text="CertificateRevoked(uint256,address,string)")
_REISSUE_APPROVED = keccak(text="ReissueApproved(uint256,address,address,string)")
_ROLE_GRANTED = keccak(text="RoleGranted(bytes32,address,address)")
_ROLE_REVOKED = keccak(text="RoleRevoked(bytes32,address,address)")


class OnChainLabel(IntEnum):
    UNSCANNED = 0
    LIKELY_AUTHENTIC = 1
    UNCERTAIN = 2
    LIKELY_MANIPULATED = 3

    @property
    def text(self) -> str:
        return self.name.lower()

    @classmethod
    def from_text(cls, text: str) -> "OnChainLabel":
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"unknown verdict label {text!r}") from None


@dataclass(frozen=True)
class MintRequest:
    content_hash: bytes  # 32 bytes, the media's sha256
    metadata_digest: bytes  # 32 bytes, sha256 of the canonical metadata JSON
    label: OnChainLabel
    score_bps: int
    phash: int  # 64-bit
    pdq: bytes  # 32 bytes

    def as_tuple(self) -> tuple:
        return (self.content_hash, self.metadata_digest, int(self.label), self.score_bps, self.phash, self.pdq)


@dataclass(frozen=True)
class Certificate:
    token_id: int
    content_hash: bytes
    metadata_digest: bytes
    issuer: str
    issued_at: int
    label: OnChainLabel
    score_bps: int
    revoked: bool
    owner: str

    @property
    def token_hex(self) -> str:
        return "0x" + self.content_hash.hex()


@dataclass(frozen=True)
class RecordNote:
    """A revocation or a re-issue approval of a token, as its event tells it."""

    kind: str  # "revoked" or "reissue_approved"
    by: str  # who sent it
    reason: str
    block_number: int
    tx_hash: str
    issuer: str | None = None  # for an approval: the issuer it names


@dataclass(frozen=True)
class IssuerEntry:
    """An account ever granted ISSUER_ROLE, with its number and whether it holds the role now."""

    address: str
    issuer_id: int
    active: bool


@dataclass(frozen=True)
class SentTx:
    tx_hash: str
    nonce: int


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction not yet (or not known to be) sent: its hash can be recorded first."""

    tx_hash: str
    nonce: int
    raw: bytes


@dataclass(frozen=True)
class TxOutcome:
    tx_hash: str
    block_number: int
    gas_used: int
    token_ids: tuple[int, ...] = ()
    issued: tuple[Certificate, ...] = ()  # what the CertificateIssued events say was minted


@dataclass(frozen=True)
class RegistryEvent:
    name: str
    block_number: int
    tx_hash: str
    log_index: int
    args: dict
    block_hash: str = ""


def token_id_of(content_hash: bytes) -> int:
    return int.from_bytes(content_hash, "big")


class ErrorDecoder:
    """Turns revert data into `Name(arg=value, ...)` using the contract ABI."""

    def __init__(self, abi: list):
        self._errors = {}
        for item in abi:
            if item.get("type") == "error":
                types = [i["type"] for i in item["inputs"]]
                selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
                self._errors[selector] = (item["name"], [i["name"] for i in item["inputs"]], types)

    def decode(self, data: str | bytes | None) -> tuple[str, dict] | None:
        if not data:
            return None
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        entry = self._errors.get(raw[:4])
        if entry is None:
            return None
        name, names, types = entry
        values = abi_decode(types, raw[4:])
        return name, dict(zip(names, values))


class Registry:
    """Reads and writes one deployed CertificateRegistry."""

    def __init__(self, w3: Web3, address: str, signer: LocalAccount | None = None, lock_dir: Path | None = None):
        """`lock_dir`: where the per-signer lock lives (the home's `locks/`), so that several
        processes sending with one key take turns from nonce fetch to broadcast (locks.py)."""
        artifact = load_artifact()
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.contract = w3.eth.contract(address=self.address, abi=artifact.abi)
        self.signer = signer
        self._errors = ErrorDecoder(artifact.abi)
        self._lock_dir = lock_dir
        self._lock = _signer_lock(lock_dir, signer)
        self._held_for: str | None = None  # a signed transaction holding the lock until it is broadcast

    def with_signer(self, signer: LocalAccount | None) -> "Registry":
        """The same deployment, sending with another key (the admin's, say); same lock folder."""
        return Registry(self.w3, self.address, signer, self._lock_dir)

    # ---- deployment ---------------------------------------------------
    @classmethod
    def deploy(
        cls, w3: Web3, signer: LocalAccount, admin: str | None = None, lock_dir: Path | None = None
    ) -> tuple["Registry", Deployment]:
        artifact = load_artifact()
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        with _signer_lock(lock_dir, signer):
            base = _tx_base(w3, signer) | {"nonce": w3.eth.get_transaction_count(signer.address, "pending")}
            tx = factory.constructor(admin or signer.address).build_transaction(base)
            receipt = _send_and_wait(w3, signer, tx)
        address = receipt["contractAddress"]
        block = w3.eth.get_block(receipt["blockNumber"])
        deployment = Deployment(
            chain_id=w3.eth.chain_id,
            address=address,
            deploy_block=receipt["blockNumber"],
            deploy_block_hash=block["hash"].to_0x_hex(),
            genesis_hash=genesis_hash(w3),
            deployer=signer.address,
        )
        return cls(w3, address, signer, lock_dir), deployment

    # ---- reads --------------------------------------------------------
    def certificate(self, token_id: int) -> Certificate | None:
        try:
            raw = self.contract.functions.certificate(token_id).call()
        except (ContractCustomError, ContractLogicError) as exc:
            decoded = self._errors.decode(_revert_data(exc))
            if decoded and decoded[0] == "UnknownCertificate":
                return None
            raise self._failure("certificate", exc) from None
        return _certificate(token_id, raw)

    def token_of_content(self, content_hash: bytes) -> int | None:
        token = self.contract.functions.tokenOfContent(content_hash).call()
        return token or None

    def tokens_of_contents(self, content_hashes: Sequence[bytes]) -> list[int | None]:
        """`token_of_content` for many hashes in one JSON-RPC batch.

        The calldata is one selector and one word, built by hand: web3's ABI
        machinery costs ~10 ms per call, which dominated large mint runs.
        """
        if not content_hashes:
            return []
        requests = [
            ("eth_call", [{"to": self.address, "data": "0x" + (_TOKEN_OF_CONTENT + bytes(h)).hex()}, "latest"])
            for h in content_hashes
        ]
        replies = self.w3.provider.make_batch_request(requests)  # type: ignore[attr-defined]  # our provider is an HTTPProvider
        if isinstance(replies, dict):  # the node refused the whole batch
            raise ChainError(f"batch tokenOfContent failed: {replies.get('error')}")
        by_id = sorted(replies, key=lambda r: r["id"])
        out = []
        for reply in by_id:
            if "error" in reply:
                raise ChainError(f"tokenOfContent failed: {reply['error']}")
            out.append(int(reply["result"], 16) or None)
        return out

    def token_uri(self, token_id: int) -> str:
        return self.contract.functions.tokenURI(token_id).call()

    def is_issuer(self, account: str) -> bool:
        return self.contract.functions.hasRole(ISSUER_ROLE, Web3.to_checksum_address(account)).call()

    def is_admin(self, account: str) -> bool:
        return self.contract.functions.hasRole(ADMIN_ROLE, Web3.to_checksum_address(account)).call()

    def issuers(self) -> list[IssuerEntry]:
        """Every account ever granted ISSUER_ROLE (the registry numbers them), and whether it holds the role now."""
        listed = self.contract.functions.registeredIssuers().call()
        return [IssuerEntry(address=a, issuer_id=i + 1, active=self.is_issuer(a)) for i, a in enumerate(listed)]

    def admins(self, from_block: int = 0) -> list[str]:
        """The accounts holding DEFAULT_ADMIN_ROLE now, from the RoleGranted/RoleRevoked events (in grant order)."""
        logs = self.w3.eth.get_logs({
            "address": self.address, "fromBlock": from_block, "toBlock": "latest",
            "topics": [["0x" + _ROLE_GRANTED.hex(), "0x" + _ROLE_REVOKED.hex()], "0x" + ADMIN_ROLE.hex()],
        })
        held: dict[str, None] = {}
        for log in logs:
            account = Web3.to_checksum_address(bytes(log["topics"][2])[-20:])
            if bytes(log["topics"][0]) == _ROLE_GRANTED:
                held[account] = None
            else:
                held.pop(account, None)
        return [a for a in held if self.is_admin(a)]  # the views have the last word

    def history(self, token_id: int) -> list[Certificate]:
        """The earlier, revoked records of a re-issued certificate, oldest first; empty if never re-issued or unknown."""
        try:
            rows = self.contract.functions.history(token_id).call()
        except (ContractCustomError, ContractLogicError) as exc:
            decoded = self._errors.decode(_revert_data(exc))
            if decoded and decoded[0] == "UnknownCertificate":
                return []
            raise self._failure("history", exc) from None
        return [_certificate(token_id, row) for row in rows]

    def reissue_approved_for(self, token_id: int) -> str | None:
        """The issuer an admin approved to re-issue this revoked certificate, or None."""
        approved = self.contract.functions.reissueApprovedFor(token_id).call()
        return None if int(approved, 16) == 0 else approved

    def record_notes(self, token_id: int, from_block: int = 0) -> list[RecordNote]:
        """The token's revocations and re-issue approvals with their reasons, oldest first (from its events)."""
        logs = self.w3.eth.get_logs({
            "address": self.address, "fromBlock": from_block, "toBlock": "latest",
            "topics": [["0x" + _CERTIFICATE_REVOKED.hex(), "0x" + _REISSUE_APPROVED.hex()], "0x" + token_id.to_bytes(32, "big").hex()],
        })
        notes = []
        for event in self.decode_logs(logs):
            if event.name == "CertificateRevoked":
                notes.append(RecordNote("revoked", event.args["revokedBy"], event.args["reason"], event.block_number, event.tx_hash))
            else:
                notes.append(RecordNote(
                    "reissue_approved", event.args["approvedBy"], event.args["reason"], event.block_number, event.tx_hash,
                    issuer=event.args["issuer"],
                ))
        return notes

    # ---- writes -------------------------------------------------------
    def grant_issuer(self, account: str) -> TxOutcome:
        return self._transact(self.contract.functions.grantRole(ISSUER_ROLE, Web3.to_checksum_address(account)))

    def revoke_issuer(self, account: str) -> TxOutcome:
        return self._transact(self.contract.functions.revokeRole(ISSUER_ROLE, Web3.to_checksum_address(account)))

    def mint(self, to: str, requests: Sequence[MintRequest]) -> TxOutcome:
        sent = self.send_mint(to, requests)
        return self.wait(sent.tx_hash)

    def send_mint(self, to: str, requests: Sequence[MintRequest]) -> SentTx:
        """Sign and submit a mint without waiting, so the caller can record the hash first."""
        if not requests:
            raise ValueError("nothing to mint")
        to = Web3.to_checksum_address(to)
        if len(requests) == 1:
            call = self.contract.functions.mint(to, requests[0].as_tuple())
        else:
            call = self.contract.functions.mintBatch(to, [r.as_tuple() for r in requests])
        return self._send(call, "mint")

    def revoke(self, token_id: int, reason: str) -> TxOutcome:
        return self._transact(self.contract.functions.revoke(token_id, reason))

    def approve_reissue(self, token_id: int, issuer: str, reason: str) -> TxOutcome:
        """(admin) Let `issuer` re-issue this revoked certificate once."""
        return self._transact(self.contract.functions.approveReissue(token_id, Web3.to_checksum_address(issuer), reason))

    def reissue(self, to: str, request: MintRequest) -> TxOutcome:
        return self.wait(self.send_reissue(to, request).tx_hash)

    def send_reissue(self, to: str, request: MintRequest) -> SentTx:
        """Sign and submit a re-issue of a revoked, approved certificate without waiting."""
        return self._send(self.contract.functions.reissue(Web3.to_checksum_address(to), request.as_tuple()), "reissue")

    def reattest(self, token_id: int, metadata_digest: bytes, label: OnChainLabel, score_bps: int) -> TxOutcome:
        return self._transact(self.contract.functions.reattest(token_id, metadata_digest, int(label), score_bps))

    def sign_reattest(
        self, token_id: int, metadata_digest: bytes, label: OnChainLabel, score_bps: int, nonce: int | None = None
    ) -> SignedTx:
        """Sign a reattest without sending it, so the caller can record its hash first.

        The node checks the call (an estimate), so a reattest that would revert fails here.
        """
        return self._sign(self.contract.functions.reattest(token_id, metadata_digest, int(label), score_bps), "reattest", nonce)

    def broadcast(self, signed: SignedTx, what: str = "transaction") -> SentTx:
        """Send a transaction signed earlier (again, if it was lost: the same bytes are the same transaction).

        A transaction signed here with a nonce fetched from the node holds the signer's lock
        until this call has handed it to the node.
        """
        try:
            self.w3.eth.send_raw_transaction(signed.raw)
        except Web3RPCError as exc:
            raise TransactionFailed(f"{what} rejected by the node: {exc}") from None
        finally:
            if self._held_for == signed.tx_hash:
                self._release_hold()
        return SentTx(tx_hash=signed.tx_hash, nonce=signed.nonce)

    def transaction_known(self, tx_hash: str) -> bool:
        """Whether the node has this transaction, pending or mined."""
        try:
            self.w3.eth.get_transaction(HexStr(tx_hash))
        except TransactionNotFound:
            return False
        return True

    def mined_nonce(self) -> int:
        """How many of the signer's transactions are mined: nonces below it are spent."""
        if self.signer is None:
            raise ChainError("no signing key configured")
        return self.w3.eth.get_transaction_count(self.signer.address, "latest")

    def wait(self, tx_hash: str) -> TxOutcome:
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(HexStr(tx_hash), timeout=RECEIPT_TIMEOUT_S, poll_latency=0.01)
        except TimeExhausted:
            raise ChainError(f"transaction {tx_hash} not mined within {RECEIPT_TIMEOUT_S} s") from None
        if receipt["status"] != 1:
            raise TransactionFailed(f"transaction {tx_hash} reverted")
        issued = self.contract.events.CertificateIssued().process_receipt(receipt, errors=DISCARD)
        issued += self.contract.events.CertificateReissued().process_receipt(receipt, errors=DISCARD)
        return TxOutcome(
            tx_hash=receipt["transactionHash"].to_0x_hex(),
            block_number=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            token_ids=tuple(e["args"]["tokenId"] for e in issued),
            issued=tuple(issued_certificate(e["args"]) for e in issued),
        )

    def mint_of(self, token_id: int, from_block: int = 0) -> tuple[str, int] | None:
        """(tx hash, block) of the token's current record: its mint, or its latest re-issue (by event topic)."""
        logs = self.w3.eth.get_logs({
            "address": self.address, "fromBlock": from_block, "toBlock": "latest",
            "topics": [["0x" + _CERTIFICATE_ISSUED.hex(), "0x" + _CERTIFICATE_REISSUED.hex()], "0x" + token_id.to_bytes(32, "big").hex()],
        })
        return (logs[-1]["transactionHash"].to_0x_hex(), logs[-1]["blockNumber"]) if logs else None

    # ---- events -------------------------------------------------------
    def events(self, from_block: int, to_block: int | None = None) -> list[RegistryEvent]:
        to_block = self.w3.eth.block_number if to_block is None else to_block
        logs = self.w3.eth.get_logs({"address": self.address, "fromBlock": from_block, "toBlock": to_block})
        return self.decode_logs(logs)

    def decode_logs(self, logs) -> list[RegistryEvent]:
        by_topic = {}
        for item in self.contract.abi:
            if item["type"] == "event":
                sig = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                by_topic[keccak(text=sig)] = getattr(self.contract.events, item["name"])()
        out = []
        for log in logs:
            event = by_topic.get(bytes(log["topics"][0]))
            if event is None:
                continue
            decoded = event.process_log(log)
            out.append(
                RegistryEvent(
                    name=decoded["event"],
                    block_number=log["blockNumber"],
                    tx_hash=log["transactionHash"].to_0x_hex(),
                    log_index=log["logIndex"],
                    args=dict(decoded["args"]),
                    block_hash=log["blockHash"].to_0x_hex(),
                )
            )
        return out

    # ---- plumbing -----------------------------------------------------
    def _transact(self, call) -> TxOutcome:
        return self.wait(self._send(call, call.fn_name).tx_hash)

    def _send(self, call, what: str) -> SentTx:
        return self.broadcast(self._sign(call, what), what)

    def _sign(self, call, what: str, nonce: int | None = None) -> SignedTx:
        """Build and sign `call`; with no `nonce`, the next one: the node's count of the signer's
        transactions (pending included), asked under the signer's lock, which stays held until
        `broadcast` sends this transaction (or the next signing replaces it)."""
        if self.signer is None:
            raise ChainError("no signing key configured")
        if nonce is not None:
            return self._build(call, what, nonce)
        self._lock.acquire()
        if self._held_for is not None:
            # Signed before and never broadcast: that hold ends here, and its nonce is free again.
            self._release_hold()
        try:
            # Under the lock the node's count is the truth, for this process and every other one
            # sending with this key, and after a node that lost blocks it is lower than ours was.
            pending = self.w3.eth.get_transaction_count(self.signer.address, "pending")
            signed = self._build(call, what, pending)
        except BaseException:
            self._lock.release()
            raise
        self._held_for = signed.tx_hash
        return signed

    def _release_hold(self) -> None:
        self._held_for = None
        self._lock.release()

    def _build(self, call, what: str, nonce: int) -> SignedTx:
        if self.signer is None:
            raise ChainError("no signing key configured")
        base = _tx_base(self.w3, self.signer)
        base["nonce"] = nonce
        try:
            tx = call.build_transaction(base)
        except (ContractCustomError, ContractLogicError) as exc:
            raise self._failure(what, exc) from None
        except Web3RPCError as exc:
            raise TransactionFailed(f"{what} rejected by the node: {exc}") from None
        signed = self.signer.sign_transaction(tx)
        return SignedTx(tx_hash="0x" + bytes(signed.hash).hex(), nonce=tx["nonce"], raw=bytes(signed.raw_transaction))

    def _failure(self, what: str, exc: Exception) -> TransactionFailed:
        decoded = self._errors.decode(_revert_data(exc))
        if decoded is None:
            return TransactionFailed(f"{what} reverted: {exc}")
        name, args = decoded
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
        return TransactionFailed(f"{what} reverted: {name}({shown})", name, tuple(args.values()))


def _certificate(token_id: int, raw) -> Certificate:
    """A Certificate from the contract's struct, as `certificate` and `history` return it."""
    content, digest, issuer, issued_at, label, score, revoked, owner = raw
    return Certificate(
        token_id=token_id,
        content_hash=bytes(content),
        metadata_digest=bytes(digest),
        issuer=issuer,
        issued_at=issued_at,
        label=OnChainLabel(label),
        score_bps=score,
        revoked=revoked,
        owner=owner,
    )


def _signer_lock(lock_dir: Path | None, signer: LocalAccount | None):
    if lock_dir is None or signer is None:
        return NoLock()
    return SignerLock.for_signer(lock_dir, signer.address)


def issued_certificate(args) -> Certificate:
    """The certificate a CertificateIssued (or CertificateReissued) event's args describe, as minted."""
    return Certificate(
        token_id=args["tokenId"],
        content_hash=args["tokenId"].to_bytes(32, "big"),
        metadata_digest=bytes(args["metadataDigest"]),
        issuer=args["issuer"],
        issued_at=args["issuedAt"],
        label=OnChainLabel(args["label"]),
        score_bps=args["scoreBps"],
        revoked=False,
        owner=args["to"],
    )


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and value > 2**64:
        return hex(value)
    return str(value)


def _revert_data(exc: Exception) -> str | None:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    return data if isinstance(data, str) else None


def _tx_base(w3: Web3, signer: LocalAccount) -> dict:
    latest = w3.eth.get_block("latest")
    base_fee = latest.get("baseFeePerGas", 0)
    tip = w3.to_wei(1, "gwei")
    return {
        "from": signer.address,
        "chainId": w3.eth.chain_id,
        "maxPriorityFeePerGas": tip,
        "maxFeePerGas": 2 * base_fee + tip,
    }


def _send_and_wait(w3: Web3, signer: LocalAccount, tx: dict):
    signed = signer.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S, poll_latency=0.01)
    if receipt["status"] != 1:
        raise TransactionFailed(f"transaction {tx_hash.to_0x_hex()} reverted")
    return receipt

