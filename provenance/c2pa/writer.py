"""Writing the C2PA copy `mint --c2pa-out DIR` makes: the media with a signed manifest naming its certificate.

Order matters. The certificate's token id is the original's sha256, known
before anything is minted, so the copy is made first (while the metadata is
being built), and its sha256 goes into the issuer-signed metadata as a
rendition: `verify` on the copy then finds the certificate through the
manifest and answers `verified`. The copy cannot name the metadata CID: the
metadata records the copy's hash, so the CID depends on the copy (a hash
cycle). The manifest names the token id and the registry instead, whose
tokenURI gives the metadata CID.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic_write import temp_then_replace
from ..errors import ProvenanceError
from ..paths import private_dir
from .assertion import PROVENANCE_LABEL
from .certs import ENV_C2PA_KEY_PASSWORD, C2paKeyError, CertFiles, load_signing_material
from .sources import DIGITAL_CAPTURE, TRAINED_ALGORITHMIC_MEDIA

PERCEPTUAL_LABEL = "org.provenance.perceptual"


def _own_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("provenance")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0"


CLAIM_GENERATOR = {"name": "provenance", "version": _own_version()}
# The containers c2pa-python signs among those `mint` certifies (WebM, for one, it does not).
WRITABLE = {"image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "video/mp4", "video/quicktime", "video/x-msvideo"}


class C2paWriteError(ProvenanceError):
    """The C2PA copy could not be made (format not supported, signing failed, folder not writable)."""


@dataclass(frozen=True)
class SigningIdentity:
    """The issuer's C2PA certificate chain (PEM, end entity first) and ES256 key (PEM), in memory only."""

    chain_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)
    cert_path: Path

    @classmethod
    def from_settings(cls, settings, environ: dict[str, str] | None = None) -> SigningIdentity:
        """`[c2pa] sign_cert` / `sign_key`, else the development certificate `provenance keys cert` made."""
        env = os.environ if environ is None else environ
        dev = CertFiles.under(settings.home)
        cert = Path(settings.c2pa_sign_cert).expanduser() if settings.c2pa_sign_cert else dev.chain
        key = Path(settings.c2pa_sign_key).expanduser() if settings.c2pa_sign_key else dev.key
        if not cert.exists() and not settings.c2pa_sign_cert:
            raise C2paKeyError(
                "no C2PA signing certificate: run `provenance keys cert` (a development CA and certificate), "
                "or set [c2pa] sign_cert and sign_key in config.toml"
            )
        chain, plain = load_signing_material(cert, key, env.get(ENV_C2PA_KEY_PASSWORD))
        return cls(chain, plain, cert)


@dataclass(frozen=True)
class CertificateRef:
    """The on-chain certificate a copy will be covered by."""

    chain_id: int
    registry: str


class RenditionWriter:
    """Makes the signed C2PA copy of each certified file in `out_dir`; `written` maps content sha256 -> copy path."""

    def __init__(self, out_dir: Path, identity: SigningIdentity, ref: CertificateRef):
        self.out_dir = Path(out_dir)
        self.identity = identity
        self.ref = ref
        self.written: dict[str, Path] = {}
        # Files are prepared on several threads: two inputs named alike (a/x.jpg, b/x.jpg) must not
        # overwrite each other's copy, or the first certificate would name bytes no longer on disk.
        self._lock = threading.Lock()
        self._taken: dict[Path, str] = {}  # copy path -> the content it holds

    def check_folder(self) -> None:
        """Fail before any work if the folder cannot be made or written."""
        try:
            if not self.out_dir.exists():
                private_dir(self.out_dir)
            if not os.access(self.out_dir, os.W_OK | os.X_OK) or not self.out_dir.is_dir():
                raise C2paWriteError(f"--c2pa-out {self.out_dir}: not a writable folder")
        except OSError as exc:
            raise C2paWriteError(f"--c2pa-out {self.out_dir}: {exc.strerror or exc}") from None

    def __call__(self, media, hashes: dict, generator: dict | None, media_cid: str) -> dict:
        """Write the copy of `media` (a MediaFile) and return its rendition entry for the metadata."""
        if media.mime not in WRITABLE:
            raise C2paWriteError(
                f"{media.path}: C2PA manifests cannot be written into {media.mime} (supported: {', '.join(sorted(WRITABLE))})"
            )
        dest = self.out_dir / Path(media.path).name
        if dest.resolve() == Path(media.path).resolve():
            raise C2paWriteError(f"{media.path}: --c2pa-out would overwrite the original; choose another folder")
        with self._lock:
            holder = self._taken.setdefault(dest, media.sha256)
        if holder != media.sha256:
            raise C2paWriteError(
                f"{media.path}: another file of this run already writes {dest}; certify files named alike in separate runs or folders"
            )
        manifest = self._manifest(media, hashes, generator, media_cid)
        try:
            with temp_then_replace(dest, "c2pa-tmp") as tmp:
                _sign_to(manifest, self.identity, media.mime, Path(media.path), tmp)
                digest, size = _sha256_of(tmp)
        except OSError as exc:
            raise C2paWriteError(f"{dest}: cannot be written ({exc.strerror or exc})") from None
        self.written[media.sha256] = dest
        return {"sha256": digest, "type": "c2pa", "mime": media.mime, "size": size}

    def _manifest(self, media, hashes: dict, generator: dict | None, media_cid: str) -> dict:
        # A declared generator means the file was made by a model; without one the issuer certifies it as captured.
        source = TRAINED_ALGORITHMIC_MEDIA if generator else DIGITAL_CAPTURE
        action: dict = {"action": "c2pa.created", "digitalSourceType": source, "softwareAgent": CLAIM_GENERATOR}
        if generator and isinstance(generator.get("model"), str):
            action["parameters"] = {"description": f"generated by {generator['model']}"}
        provenance = {
            "token_id": f"0x{media.sha256}",
            "chain_id": self.ref.chain_id,
            "registry": self.ref.registry,
            "original_sha256": media.sha256,
            "media_cid": media_cid,
            # Not the CID itself: the metadata records this copy's hash, so it depends on the copy.
            "metadata": "the registry's tokenURI(token_id)",
        }
        perceptual = {k: hashes[k] for k in ("phash", "pdq", "pdq_quality") if k in hashes}
        if "frames" in hashes:
            perceptual["frames"] = hashes["frames"]
        return {
            "claim_generator_info": [CLAIM_GENERATOR],
            "title": Path(media.path).name,
            "format": media.mime,
            "assertions": [
                {"label": "c2pa.actions", "data": {"actions": [action]}},
                {"label": PROVENANCE_LABEL, "data": provenance},
                {"label": PERCEPTUAL_LABEL, "data": perceptual},
            ],
        }


def _sign_to(manifest: dict, identity: SigningIdentity, mime: str, src: Path, dest: Path) -> None:
    import c2pa

    try:
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.chain_pem, identity.key_pem, None)
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            with open(src, "rb") as source, os.fdopen(fd, "w+b") as out:
                builder.sign(signer, mime, source, out)
                out.flush()
                os.fsync(out.fileno())
    except c2pa.C2paError as exc:
        # The binding's message names the failing step; it never holds the key.
        raise C2paWriteError(f"{src}: C2PA signing failed: {' '.join(str(exc).split())[:300]}") from None


def _sha256_of(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size
