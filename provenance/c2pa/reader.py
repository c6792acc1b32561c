"""Reading a file's C2PA manifest store with the reference implementation (c2pa-python).

Never raises for what is in the file: a file c2pa cannot parse gives a report
with state `error` and the reason. `c2pa` is imported here, inside the
functions, so commands that read no manifest never load it.
"""

from __future__ import annotations

import json
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import ProvenanceError
from .assertion import PROVENANCE_LABEL, parse_provenance_assertion
from .report import ABSENT, ERROR, PRESENT, UNAVAILABLE, UNSUPPORTED, Action, C2paReport, Ingredient, Manifest, SignerInfo, ValidationCode
from .sources import is_generative

# A manifest store is at most a few MB; a file larger than this is read by c2pa in a
# streaming way, but its JSON report must stay small: cap what we keep of it.
MAX_REPORT_JSON = 8 * 1024 * 1024
MAX_MANIFESTS = 64
# JPEG and PNG (most of what a verification service receives) are walked segment by segment, reading
# headers only: a manifest store lives in an APP11 segment (JPEG) or a caBX chunk (PNG), and a remote
# one is named in XMP (dcterms:provenance). A file with neither skips the reference reader, which costs
# about 1.5 ms even for a file without C2PA. Anything irregular, and every other format, goes to the reader.
XMP_READ_BYTES = 1024 * 1024  # the most of one metadata segment or chunk read to look for a remote reference


class C2paConfigError(ProvenanceError):
    """The [c2pa] settings name a trust anchor file that cannot be used."""


@dataclass(frozen=True)
class ReadOptions:
    """Trust anchors: PEM certificates of the CAs whose signers count as trusted ('' : none, every signer untrusted)."""

    trust_anchors_pem: str = ""

    @classmethod
    def from_settings(cls, settings) -> ReadOptions:
        path = getattr(settings, "c2pa_trust_anchors", "") or ""
        if not path:
            return cls()
        anchors = Path(path).expanduser()
        try:
            text = anchors.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise C2paConfigError(f"[c2pa] trust_anchors {anchors}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise C2paConfigError(f"[c2pa] trust_anchors {anchors}: holds no PEM certificate")
        return cls(trust_anchors_pem=text)


def _context(options: ReadOptions):
    import c2pa

    # Remote manifests are never fetched: verification runs offline, and fetching a
    # URL chosen by the file's author would tell them who opened it and when.
    config: dict = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if options.trust_anchors_pem:
        config["trust"] = {"trust_anchors": options.trust_anchors_pem}
    return c2pa.Context.from_dict(config)


def read_c2pa(path: Path, options: ReadOptions | None = None) -> C2paReport:
    """The C2PA report of `path`; never raises for the file's content."""
    options = options or ReadOptions()
    try:
        import c2pa
    except ImportError as exc:  # an install without the optional binding still verifies
        return C2paReport(state=UNSUPPORTED, reason=f"c2pa-python is not installed ({exc})")
    try:
        # Only regular files: opening a FIFO would wait for a writer, a device may never end.
        if not stat.S_ISREG(os.stat(path).st_mode):
            return C2paReport(state=UNSUPPORTED, reason="not a regular file")
        with open(path, "rb") as stream:
            mime = _mime(stream)
            if mime is None:
                return C2paReport(state=UNSUPPORTED, reason="not a media format C2PA manifests are read from")
            if not may_hold_manifest(stream, mime):
                return C2paReport(state=ABSENT)
            stream.seek(0)
            context = _context(options)
            try:
                with c2pa.Reader(mime, stream, context=context) as reader:
                    raw = reader.json()
                    remote = reader.get_remote_url() if not reader.is_embedded() else None
            finally:
                context.close()
    except OSError as exc:
        return C2paReport(state=ERROR, reason=f"cannot be read: {exc.strerror or exc}")
    except c2pa.C2paError as exc:
        return _from_error(str(exc))
    except (ValueError, TypeError, MemoryError) as exc:  # the binding's argument checks
        return C2paReport(state=ERROR, reason=_one_line(str(exc) or type(exc).__name__))
    if len(raw) > MAX_REPORT_JSON:
        return C2paReport(state=ERROR, reason=f"manifest store report too large ({len(raw)} bytes)")
    try:
        store = json.loads(raw)
    except ValueError as exc:
        return C2paReport(state=ERROR, reason=f"c2pa returned unreadable JSON: {exc}")
    return _report(store, remote, trusted_anchors=bool(options.trust_anchors_pem))


def may_hold_manifest(stream, mime: str) -> bool:
    """False only for a JPEG or PNG whose structure, read header by header, holds no manifest store and no remote reference."""
    try:
        if mime == "image/jpeg":
            return _jpeg_may_hold(stream)
        if mime == "image/png":
            return _png_may_hold(stream)
    except (OSError, ValueError, struct.error):
        pass
    return True


def _jpeg_may_hold(stream) -> bool:
    stream.seek(2)  # after SOI
    while True:
        head = stream.read(4)
        if len(head) < 4 or head[0] != 0xFF:
            return True  # not a clean segment sequence: the reader decides
        marker, length, data_at = head[1], struct.unpack(">H", head[2:])[0], stream.tell()
        if marker == 0xDA:  # start of scan: the header segments are over
            return False
        if marker == 0xEB:  # APP11: JUMBF, where C2PA stores manifests in JPEG
            return True
        if marker == 0xE1 and b"provenance" in stream.read(min(length - 2, XMP_READ_BYTES)):  # XMP naming a remote manifest
            return True
        stream.seek(data_at + length - 2)  # the length counts its own two bytes


def _png_may_hold(stream) -> bool:
    stream.seek(8)  # after the signature
    while True:
        head = stream.read(8)
        if len(head) < 8:
            return True  # ended without IEND: the reader decides
        length, kind, data_at = struct.unpack(">I", head[:4])[0], head[4:], stream.tell()
        if kind == b"caBX":  # the C2PA chunk
            return True
        if kind == b"IEND":
            return False
        if kind == b"zTXt":  # compressed text is not read here
            return True
        if kind in (b"iTXt", b"tEXt") and b"provenance" in stream.read(min(length, XMP_READ_BYTES)):  # XMP naming a remote manifest
            return True
        stream.seek(data_at + length + 4)  # past the data and the CRC


def _mime(stream) -> str | None:
    """The media type c2pa should parse the bytes as, from the bytes (a file's name may lie)."""
    head = stream.read(64)
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1"):
            return "image/heic"
        if brand == b"avif":
            return "image/avif"
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


def _from_error(message: str) -> C2paReport:
    """c2pa's error, as a state: no manifest, a remote one not fetched, an unsupported format, or damage."""
    kind = message.split(":", 1)[0].strip()
    text = _one_line(message)
    if kind == "ManifestNotFound" or "no JUMBF data found" in message:
        return C2paReport(state=ABSENT)
    if kind == "Remote":
        url = next((w for w in message.split() if w.startswith(("http://", "https://"))), None)
        return C2paReport(
            state=UNAVAILABLE, remote_url=url, reason="the manifest is stored remotely and is not fetched (verification runs offline)"
        )
    if kind == "NotSupported" or "type is unsupported" in message:
        return C2paReport(state=UNSUPPORTED, reason=text)
    return C2paReport(state=ERROR, reason=text)


def _codes(entries, kind: str) -> tuple[ValidationCode, ...]:
    out = []
    for e in entries or []:
        if isinstance(e, dict) and isinstance(e.get("code"), str):
            out.append(ValidationCode(e["code"], str(e.get("explanation") or ""), kind, str(e.get("url") or "")))
    return tuple(out)


def _report(store: dict, remote: str | None, trusted_anchors: bool) -> C2paReport:
    state = store.get("validation_state")
    results = store.get("validation_results") or {}
    active_results = results.get("activeManifest") or {}
    if active_results:
        codes = (
            _codes(active_results.get("failure"), "failure")
            + _codes(active_results.get("informational"), "informational")
            + _codes(active_results.get("success"), "success")
        )
    else:  # older stores report only the flat list, all failures
        codes = _codes(store.get("validation_status"), "failure")
    ingredient_codes: tuple[ValidationCode, ...] = ()
    for delta in results.get("ingredientDeltas") or []:
        deltas = (delta or {}).get("validationDeltas") or {}
        ingredient_codes += (
            _codes(deltas.get("failure"), "failure")
            + _codes(deltas.get("informational"), "informational")
            + _codes(deltas.get("success"), "success")
        )
    untrusted = any(c.code == "signingCredential.untrusted" for c in codes)
    # Trusted only when anchors were given and c2pa found the chain leading to one (state Trusted).
    signer_trusted = trusted_anchors and state == "Trusted" and not untrusted
    raw_manifests = store.get("manifests") or {}
    labels = list(raw_manifests)[:MAX_MANIFESTS]
    active_label = store.get("active_manifest")
    manifests = []
    for label in labels:
        active_one = label == active_label
        manifests.append(_manifest(label, raw_manifests[label], signer_trusted if active_one else False))
    # Oldest first, active last: the order of the edit history.
    manifests.sort(key=lambda m: m.label == active_label)
    active = next((m for m in manifests if m.label == active_label), None)
    provenance = None
    if active_label in raw_manifests:
        for assertion in raw_manifests[active_label].get("assertions") or []:
            if isinstance(assertion, dict) and assertion.get("label") == PROVENANCE_LABEL:
                provenance = parse_provenance_assertion(assertion.get("data"))
    return C2paReport(
        state=PRESENT,
        validation_state=state if isinstance(state, str) else None,
        codes=codes,
        active=active,
        manifests=tuple(manifests),
        remote_url=remote,
        provenance=provenance,
        ingredient_codes=ingredient_codes,
    )


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _manifest(label: str, raw: dict, trusted: bool) -> Manifest:
    sig = raw.get("signature_info") or {}
    signer = (
        SignerInfo(
            issuer=_text(sig.get("issuer")),
            common_name=_text(sig.get("common_name")),
            algorithm=_text(sig.get("alg")),
            signed_at=_text(sig.get("time")),
            trusted=trusted,
        )
        if sig
        else None
    )
    generator = _text(raw.get("claim_generator"))
    if generator is None:  # claims v2 name their generator only in claim_generator_info
        info = [i for i in raw.get("claim_generator_info") or [] if isinstance(i, dict) and i.get("name")]
        generator = " ".join(f"{i['name']}/{i['version']}" if i.get("version") else str(i["name"]) for i in info) or None
    actions: list[Action] = []
    labels: list[str] = []
    for assertion in raw.get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        name = str(assertion.get("label", ""))
        labels.append(name)
        if name.split(".v")[0] == "c2pa.actions" or name in ("c2pa.actions", "c2pa.actions.v2"):
            for act in (assertion.get("data") or {}).get("actions") or []:
                if isinstance(act, dict) and isinstance(act.get("action"), str):
                    source = _text(act.get("digitalSourceType"))
                    agent = act.get("softwareAgent")
                    agent_name = _text(agent.get("name")) if isinstance(agent, dict) else _text(agent)
                    actions.append(Action(act["action"], source, agent_name, is_generative(source)))
    ingredients = tuple(
        Ingredient(_text(i.get("title")), _text(i.get("relationship")), _text(i.get("format")), _text(i.get("active_manifest")))
        for i in raw.get("ingredients") or []
        if isinstance(i, dict)
    )
    return Manifest(label, generator, _text(raw.get("title")), signer, tuple(actions), ingredients, tuple(labels))
