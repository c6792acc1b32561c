"""A typed client of the CertificateRegistry contract on web3.py."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from pathlib import Path
from typing import Any, Sequence, TypeVar

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
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

T = TypeVar("T")
ISSUER_ROLE = keccak(text="ISSUER_ROLE")
ADMIN_ROLE = b"\0" * 32  # AccessControl's DEFAULT_ADMIN_ROLE
RECEIPT_TIMEOUT_S = 120
_TOKEN_OF_CONTENT = keccak(text="tokenOfContent(bytes32)")[:4]
_CERTIFICATE_STRUCT = "(bytes32,bytes32,address,uint40,uint8,uint16,bool,address)"
_CERTIFICATE_ISSUED = keccak(text="CertificateIssued(uint256,address,address,bytes32,uint8,uint16,uint64,bytes32,uint40)")
_CERTIFICATE_REISSUED = keccak(text="CertificateReissued(uint256,address,address,bytes32,uint8,uint16,uint64,bytes32,uint40,uint256)")
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

    def record_fields(self) -> dict:
        """The record as reports show it (`show`, verify, the API, re-issue history): score as a fraction, digest as hex."""
        return {
            "issuer": self.issuer,
            "owner": self.owner,
            "issued_at": self.issued_at,
            "label": self.label.text,
            "score": self.score_bps / 10_000,
            "revoked": self.revoked,
            "metadata_digest": self.metadata_digest.hex(),
        }


@dataclass(frozen=True)
class TokenRecord:
    """What a verification reads about one token, in one JSON-RPC batch (`Registry.record`).

    `certificate` is None for a token the registry does not know; then the other two say nothing.
    """

    token_id: int
    certificate: Certificate | None
    token_uri: str | None
    history: list[Certificate]
    # hasRole(ISSUER_ROLE, account) for the account the caller guessed, read in the same batch: (account, holds it).
    issuer_role: tuple[str, bool] | None = None


@dataclass(frozen=True)
class View:
    """One view function called by hand: selector and eth_abi types, no web3 contract machinery.

    web3's ABI lookup, validation and middleware cost ~3-5 ms of CPU per call; a
    verification makes several, which made it CPU-bound (BENCHMARKS.md, HTTP
    verification service). The types are checked against the contract's ABI
    once, when a Registry is built (`_check_views`).
    """

    name: str
    inputs: tuple[str, ...]
    output: str

    @property
    def selector(self) -> bytes:
        return keccak(text=f"{self.name}({','.join(self.inputs)})")[:4]

    def request(self, address: str, *args) -> tuple[str, list]:
        data = "0x" + (self.selector + abi_encode(list(self.inputs), list(args))).hex()
        return ("eth_call", [{"to": address, "data": data}, "latest"])

    def decode(self, result: str):
        raw = bytes.fromhex(result[2:] if result.startswith("0x") else result)
        (value,) = abi_decode([self.output], raw)
        return value


_V_CERTIFICATE = View("certificate", ("uint256",), _CERTIFICATE_STRUCT)
_V_HISTORY = View("history", ("uint256",), _CERTIFICATE_STRUCT + "[]")
_V_TOKEN_URI = View("tokenURI", ("uint256",), "string")
_V_HAS_ROLE = View("hasRole", ("bytes32", "address"), "bool")
_V_TOKEN_OF_CONTENT = View("tokenOfContent", ("bytes32",), "uint256")
_VIEWS = (_V_CERTIFICATE, _V_HISTORY, _V_TOKEN_URI, _V_HAS_ROLE, _V_TOKEN_OF_CONTENT)


class Reverted(ChainError):
    """An eth_call the contract reverted; `data` is its revert data, if the node sent it."""

    def __init__(self, message: str, data: str | None):
        super().__init__(message)
        self.data = data


def _abi_type(param: dict) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + param["type"][len("tuple") :]
    return param["type"]


def _check_views(abi: list) -> None:
    """The hand-written view signatures are the contract's: a changed ABI fails here, not in a verification."""
    if id(abi) in _VIEWS_CHECKED:  # the artifact is loaded once per process
        return
    functions = {(i["name"], tuple(_abi_type(p) for p in i["inputs"])): i for i in abi if i.get("type") == "function"}
    for view in _VIEWS:
        item = functions.get((view.name, view.inputs))
        outputs = [_abi_type(p) for p in item["outputs"]] if item else None
        if outputs != [view.output]:
            raise ChainError(f"the registry ABI's {view.name} is not {view.name}({','.join(view.inputs)}) -> {view.output}")
    _VIEWS_CHECKED.add(id(abi))


_VIEWS_CHECKED: set[int] = set()


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
        _check_views(artifact.abi)
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
    # The views a verification reads go through `_call`/`_batch` (eth_abi, one provider request),
    # not web3's contract functions: same calls, same answers, a fraction of the CPU.
    def certificate(self, token_id: int) -> Certificate | None:
        try:
            raw = self._call(_V_CERTIFICATE, token_id)
        except Reverted as exc:
            return self._unknown(exc, "certificate", None)
        return _certificate(token_id, raw)

    def record(self, token_id: int) -> TokenRecord:
        """The token's certificate, tokenURI and history in one JSON-RPC batch (one round trip instead of three)."""
        views = (_V_CERTIFICATE, _V_TOKEN_URI, _V_HISTORY)
        replies = self._batch([v.request(self.address, token_id) for v in views], "certificate, tokenURI, history")
        return self._record(token_id, replies)

    def record_of_content(self, content_hash: bytes, issuer_guess: str | None = None) -> tuple[int | None, TokenRecord | None]:
        """`token_of_content`, and the record of the token it names, in one round trip.

        A certificate's token id is its content hash, so the record is asked for
        that id in the same batch; it is returned only when the registry maps the
        hash to exactly that token (else None: the caller reads the record of the
        token it was given, if any). With `issuer_guess`, the batch also asks
        whether that account holds ISSUER_ROLE now (`TokenRecord.issuer_role`):
        the caller uses the answer only if the certificate names that account.
        """
        token_id = token_id_of(content_hash)
        views = (_V_CERTIFICATE, _V_TOKEN_URI, _V_HISTORY)
        requests = [_V_TOKEN_OF_CONTENT.request(self.address, content_hash), *(v.request(self.address, token_id) for v in views)]
        guess = Web3.to_checksum_address(issuer_guess) if issuer_guess else None
        if guess:
            requests.append(_V_HAS_ROLE.request(self.address, ISSUER_ROLE, guess))
        replies = self._batch(requests, "tokenOfContent, certificate, tokenURI, history")
        try:
            token = self._result(_V_TOKEN_OF_CONTENT, replies[0]) or None
        except Reverted as exc:
            raise self._failure("tokenOfContent", exc) from None
        if token != token_id:  # not certified, or under another id: the speculative reads say nothing
            return token, None
        record = self._record(token_id, replies[1:4])
        if guess:
            try:
                record = replace(record, issuer_role=(guess, bool(self._result(_V_HAS_ROLE, replies[4]))))
            except Reverted as exc:
                raise self._failure("hasRole", exc) from None
        return token, record

    def _record(self, token_id: int, replies: list[dict]) -> TokenRecord:
        cert_reply, uri_reply, history_reply = replies
        try:
            raw = self._result(_V_CERTIFICATE, cert_reply)
        except Reverted as exc:
            return TokenRecord(token_id, self._unknown(exc, "certificate", None), None, [])
        try:
            past = [_certificate(token_id, row) for row in self._result(_V_HISTORY, history_reply)]
        except Reverted as exc:
            past = self._unknown(exc, "history", [])
        try:
            uri = self._result(_V_TOKEN_URI, uri_reply)
        except Reverted as exc:
            raise self._failure("tokenURI", exc) from None
        return TokenRecord(token_id, _certificate(token_id, raw), uri, past)

    def token_of_content(self, content_hash: bytes) -> int | None:
        try:
            token = self._call(_V_TOKEN_OF_CONTENT, content_hash)
        except Reverted as exc:
            raise self._failure("tokenOfContent", exc) from None
        return token or None

    def tokens_of_contents(self, content_hashes: Sequence[bytes]) -> list[int | None]:
        """`token_of_content` for many hashes in one JSON-RPC batch.

        The calldata is one selector and one word, built by hand: web3's ABI
        machinery costs ~10 ms per call, which dominated large mint runs.
        """
        if not content_hashes:
            return []
        requests = [
            ("eth_call", [{"to": self.address, "data": "0x" + (_TOKEN_OF_CONTENT + bytes(h)).hex()}, "latest"]) for h in content_hashes
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
        try:
            return self._call(_V_TOKEN_URI, token_id)
        except Reverted as exc:
            raise self._failure("tokenURI", exc) from None

    def is_issuer(self, account: str) -> bool:
        try:
            return self._call(_V_HAS_ROLE, ISSUER_ROLE, Web3.to_checksum_address(account))
        except Reverted as exc:
            raise self._failure("hasRole", exc) from None

    def is_admin(self, account: str) -> bool:
        return self.contract.functions.hasRole(ADMIN_ROLE, Web3.to_checksum_address(account)).call()

    def issuers(self) -> list[IssuerEntry]:
        """Every account ever granted ISSUER_ROLE (the registry numbers them), and whether it holds the role now."""
        listed = self.contract.functions.registeredIssuers().call()
        return [IssuerEntry(address=a, issuer_id=i + 1, active=self.is_issuer(a)) for i, a in enumerate(listed)]

    def admins(self, from_block: int = 0) -> list[str]:
        """The accounts holding DEFAULT_ADMIN_ROLE now, from the RoleGranted/RoleRevoked events (in grant order)."""
        logs = self.w3.eth.get_logs(
            {
                "address": self.address,
                "fromBlock": from_block,
                "toBlock": "latest",
                "topics": [["0x" + _ROLE_GRANTED.hex(), "0x" + _ROLE_REVOKED.hex()], "0x" + ADMIN_ROLE.hex()],
            }
        )
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
            rows = self._call(_V_HISTORY, token_id)
        except Reverted as exc:
            return self._unknown(exc, "history", [])
        return [_certificate(token_id, row) for row in rows]

    def reissue_approved_for(self, token_id: int) -> str | None:
        """The issuer an admin approved to re-issue this revoked certificate, or None."""
        approved = self.contract.functions.reissueApprovedFor(token_id).call()
        return None if int(approved, 16) == 0 else approved

    def record_notes(self, token_id: int, from_block: int = 0) -> list[RecordNote]:
        """The token's revocations and re-issue approvals with their reasons, oldest first (from its events)."""
        logs = self.w3.eth.get_logs(
            {
                "address": self.address,
                "fromBlock": from_block,
                "toBlock": "latest",
                "topics": [["0x" + _CERTIFICATE_REVOKED.hex(), "0x" + _REISSUE_APPROVED.hex()], "0x" + token_id.to_bytes(32, "big").hex()],
            }
        )
        notes = []
        for event in self.decode_logs(logs):
            if event.name == "CertificateRevoked":
                notes.append(RecordNote("revoked", event.args["revokedBy"], event.args["reason"], event.block_number, event.tx_hash))
            else:
                notes.append(
                    RecordNote(
                        "reissue_approved",
                        event.args["approvedBy"],
                        event.args["reason"],
                        event.block_number,
                        event.tx_hash,
                        issuer=event.args["issuer"],
                    )
                )
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
        logs = self.w3.eth.get_logs(
            {
                "address": self.address,
                "fromBlock": from_block,
                "toBlock": "latest",
                "topics": [
                    ["0x" + _CERTIFICATE_ISSUED.hex(), "0x" + _CERTIFICATE_REISSUED.hex()],
                    "0x" + token_id.to_bytes(32, "big").hex(),
                ],
            }
        )
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
    def _call(self, view: View, *args):
        """One eth_call of `view` at the latest block, decoded; a revert raises Reverted."""
        reply = self.w3.provider.make_request(*view.request(self.address, *args))  # type: ignore[arg-type]  # method names are plain strings
        return self._result(view, reply)

    def _batch(self, requests: list[tuple[str, list]], what: str) -> list[dict]:
        replies = self.w3.provider.make_batch_request(requests)  # type: ignore[attr-defined]  # our provider is an HTTPProvider
        if isinstance(replies, dict) or len(replies) != len(requests):  # the node refused the whole batch
            why = replies.get("error") if isinstance(replies, dict) else f"{len(replies)} answers to {len(requests)} calls"
            raise ChainError(f"batch {what} failed: {why}")
        return sorted(replies, key=lambda r: r["id"])

    @staticmethod
    def _result(view: View, reply) -> Any:
        error = reply.get("error")
        if error is not None:
            message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
            data = error.get("data") if isinstance(error, dict) else None
            if (isinstance(data, str) and data.startswith("0x")) or "revert" in message.lower():
                raise Reverted(message, data if isinstance(data, str) else None)
            raise ChainError(f"{view.name} failed: {message}")
        result = reply.get("result")
        if not isinstance(result, str):
            raise ChainError(f"{view.name}: the node's answer has no result")
        try:
            return view.decode(result)
        except (DecodingError, ValueError) as exc:  # e.g. "0x": no contract at the address
            raise ChainError(f"{view.name} returned data that is not its ABI's answer: {exc}") from None

    def _unknown(self, exc: Reverted, what: str, default: T) -> T:
        """`default` for a token the registry does not know (UnknownCertificate); any other revert is a failure."""
        decoded = self._errors.decode(exc.data)
        if decoded and decoded[0] == "UnknownCertificate":
            return default
        raise self._failure(what, exc) from None

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
        issuer=Web3.to_checksum_address(issuer),  # eth_abi decodes addresses lower-case; web3 checksummed them
        issued_at=issued_at,
        label=OnChainLabel(label),
        score_bps=score,
        revoked=revoked,
        owner=Web3.to_checksum_address(owner),
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
