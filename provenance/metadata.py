"""Certificate metadata: building it, its canonical bytes, and the issuer's EIP-712 signature.

The on-chain digest is the sha256 of the canonical bytes of the whole
document. The issuer signs the digest of the document *without* its
`provenance.signature` member, so the signature can live inside the document
and still be checked offline.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from .errors import ProvenanceError

METADATA_VERSION = 1
MAX_METADATA_BYTES = 256 * 1024  # above this the metadata would not be one raw block
SCHEMA_PATH = Path(__file__).parent / "schemas" / "metadata-v1.json"


class MetadataError(ProvenanceError):
    """Metadata that does not parse, does not fit the schema, or whose signature fails."""


def canonical_bytes(doc: Any) -> bytes:
    """Sorted keys, compact separators, UTF-8: the bytes whose sha256 goes on chain."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def digest(doc: Any) -> bytes:
    return hashlib.sha256(canonical_bytes(doc)).digest()


@dataclass(frozen=True)
class SigningDomain:
    chain_id: int
    contract: str

    def as_eip712(self) -> dict:
        return {"name": "Provenance", "version": "1", "chainId": self.chain_id, "verifyingContract": self.contract}


_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Certificate": [
        {"name": "contentHash", "type": "bytes32"},
        {"name": "metadataDigest", "type": "bytes32"},
    ],
}


def _typed(domain: SigningDomain, content_hash: bytes, unsigned_digest: bytes):
    return encode_typed_data(
        full_message={
            "types": _TYPES,
            "primaryType": "Certificate",
            "domain": domain.as_eip712(),
            "message": {"contentHash": content_hash, "metadataDigest": unsigned_digest},
        }
    )


def unsigned_digest(doc: dict) -> bytes:
    stripped = copy.deepcopy(doc)
    stripped.get("provenance", {}).pop("signature", None)
    return digest(stripped)


def sign(doc: dict, account: LocalAccount, domain: SigningDomain) -> dict:
    """Return a copy of `doc` with the issuer's signature in `provenance.signature`."""
    signed = copy.deepcopy(doc)
    content = bytes.fromhex(signed["provenance"]["content"]["sha256"])
    message = _typed(domain, content, unsigned_digest(signed))
    signature = account.sign_message(message).signature
    signed["provenance"]["signature"] = {
        "scheme": "eip712",
        "domain": {"name": "Provenance", "version": "1", "chainId": domain.chain_id, "verifyingContract": domain.contract},
        "signer": account.address,
        "value": "0x" + bytes(signature).hex(),
    }
    return signed


def recover_signer(doc: dict) -> str:
    """The address that signed the document, from its own recorded domain."""
    try:
        sig = doc["provenance"]["signature"]
        domain = SigningDomain(int(sig["domain"]["chainId"]), sig["domain"]["verifyingContract"])
        content = bytes.fromhex(doc["provenance"]["content"]["sha256"])
        message = _typed(domain, content, unsigned_digest(doc))
        return Account.recover_message(message, signature=bytes.fromhex(sig["value"].removeprefix("0x")))
    except (KeyError, TypeError, ValueError) as exc:
        raise MetadataError(f"signature cannot be checked: {exc}") from None


@dataclass(frozen=True)
class MetadataInput:
    name: str
    description: str
    media_cid: str
    import_profile: dict
    media: dict  # MediaFile.describe() plus sha256
    perceptual: dict
    detection: dict
    generator: dict | None
    issuer: str
    chain_id: int
    contract: str
    issued_at: str
    # Other files the certificate covers byte for byte, e.g. the C2PA copy `mint --c2pa-out`
    # writes: each {"sha256", "type", "mime", "size"}. Empty: the member is left out, so
    # documents without renditions keep their bytes and digest.
    renditions: tuple[dict, ...] = ()


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build(data: MetadataInput) -> dict:
    """The unsigned document: ERC-721 / OpenSea fields plus the `provenance` object."""
    media_link = f"ipfs://{data.media_cid}"
    doc: dict[str, Any] = {
        "name": data.name,
        "description": data.description,
        "attributes": [*_verdict_traits(data.detection), {"trait_type": "Media type", "value": data.media["mime"]}],
        "provenance": {
            "version": METADATA_VERSION,
            "content": {
                "sha256": data.media["sha256"],
                "cid": data.media_cid,
                "import_profile": data.import_profile,
                **{k: v for k, v in data.media.items() if k != "sha256"},
            },
            "perceptual": data.perceptual,
            "detection": data.detection,
            "generator": data.generator,
            "issuer": data.issuer,
            "issued_at": data.issued_at,
            "chain": {"chain_id": data.chain_id, "contract": data.contract},
        },
    }
    if data.renditions:
        doc["provenance"]["renditions"] = [dict(r) for r in data.renditions]
    if data.media["kind"] == "video":
        doc["animation_url"] = media_link
    else:
        doc["image"] = media_link
    return doc


def signed_rendition(doc: dict | None, sha256: str) -> dict | None:
    """The rendition entry of `doc` whose sha256 is `sha256`, or None.

    Only meaningful on a document whose digest and signature were checked: the
    entry is then the issuer's word that these exact bytes carry the certificate.
    """
    for entry in (doc or {}).get("provenance", {}).get("renditions", []):
        if isinstance(entry, dict) and entry.get("sha256") == sha256:
            return dict(entry)
    return None


def _verdict_traits(detection: dict) -> list[dict]:
    score = float(detection.get("score", 0.0))
    return [
        {"trait_type": "Verdict", "value": detection.get("label", "unscanned")},
        {"trait_type": "Manipulation score", "display_type": "number", "value": round(score, 4), "max_value": 1},
    ]


def reattested(doc: dict, detection: dict, previous_cid: str, replaced_at: str) -> dict:
    """The unsigned next version of a certificate's metadata, with a new detector verdict.

    Everything else stays (content, hashes, generator, issuer, `issued_at`); the
    verdict it replaces goes to the end of `provenance.history` (oldest first)
    with the CID of the document that recorded it and the time it was replaced.
    """
    new = copy.deepcopy(doc)
    prov = new["provenance"]
    prov.pop("signature", None)
    old = prov["detection"]
    entry = {"label": old["label"], "score": old["score"], "metadata_cid": previous_cid, "replaced_at": replaced_at}
    prov["history"] = [*prov.get("history", []), entry]
    prov["detection"] = detection
    traits = {t["trait_type"]: t for t in _verdict_traits(detection)}
    new["attributes"] = [traits.pop(a.get("trait_type"), a) for a in new["attributes"]] + list(traits.values())
    return new


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validate(doc: Any) -> None:
    try:
        _validator().validate(doc)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise MetadataError(f"metadata does not fit schema v{METADATA_VERSION} at {where}: {exc.message}") from None


def parse(raw: bytes) -> dict:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MetadataError(f"metadata is not JSON: {exc}") from None
    validate(doc)
    return doc
