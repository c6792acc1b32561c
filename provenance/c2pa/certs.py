"""A development CA and an ES256 signing certificate for C2PA manifests.

C2PA validators accept a claim signer only with an X.509 certificate issued by
a CA (a self-signed end-entity certificate is refused), carrying the
digitalSignature key usage and an extended key usage for document signing.
`provenance keys cert` makes both here; production users configure their own
certificate chain and key instead (`[c2pa] sign_cert`, `sign_key`).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from ..atomic_write import temp_then_replace
from ..errors import ProvenanceError
from ..paths import private_dir

# The key file's password comes from here (never argv, never a log).
ENV_C2PA_KEY_PASSWORD = "PROVENANCE_C2PA_KEY_PASSWORD"
# id-kp-documentSigning (RFC 9336): one of the EKUs a C2PA claim signer may carry.
DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"
DEV_VALIDITY_DAYS = 365 * 2


class C2paKeyError(ProvenanceError):
    """A C2PA certificate or key that cannot be made, read or decrypted."""


@dataclass(frozen=True)
class CertFiles:
    """Where `keys cert` put its files (PEM). `chain` is what a signer embeds: issuer cert then CA cert."""

    folder: Path
    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path
    chain: Path

    @classmethod
    def under(cls, home: Path) -> CertFiles:
        folder = home / "c2pa"
        return cls(
            folder, folder / "dev-ca.pem", folder / "dev-ca.key", folder / "issuer.pem", folder / "issuer.key", folder / "issuer-chain.pem"
        )


def _write_private(path: Path, data: bytes) -> None:
    """Written 0600 from the first byte (O_CREAT with the mode), replacing any earlier file."""
    with temp_then_replace(path, "tmp") as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)


def create_dev_certificate(home: Path, password: str, common_name: str = "Provenance development issuer", force: bool = False) -> CertFiles:
    """A fresh development CA and an ES256 issuer certificate under `home`/c2pa (keys encrypted with `password`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

    if not password:
        raise C2paKeyError(f"a password is needed to encrypt the C2PA keys (set {ENV_C2PA_KEY_PASSWORD})")
    files = CertFiles.under(home)
    if files.key.exists() and not force:
        raise C2paKeyError(f"{files.key} exists; pass --force to replace the development certificate")
    private_dir(files.folder)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    until = now + datetime.timedelta(days=DEV_VALIDITY_DAYS)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Provenance development"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Provenance development CA"),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Provenance development"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ObjectIdentifier(DOCUMENT_SIGNING), ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    encryption = serialization.BestAvailableEncryption(password.encode("utf-8"))
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    _write_private(files.ca_key, ca_key.private_bytes(pem, pkcs8, encryption))
    _write_private(files.key, key.private_bytes(pem, pkcs8, encryption))
    files.ca_cert.write_bytes(ca_cert.public_bytes(pem))
    files.cert.write_bytes(cert.public_bytes(pem))
    files.chain.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    return files


def load_signing_material(cert_path: Path, key_path: Path, password: str | None) -> tuple[bytes, bytes]:
    """(certificate chain PEM, unencrypted PKCS#8 key PEM) for the C2PA signer, decrypted in memory only."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        chain = cert_path.read_bytes()
        raw = key_path.read_bytes()
    except OSError as exc:
        raise C2paKeyError(f"C2PA signing certificate or key cannot be read: {exc.strerror}: {exc.filename}") from None
    try:
        key = serialization.load_pem_private_key(raw, password=password.encode("utf-8") if password else None)
    except TypeError:
        raise C2paKeyError(f"{key_path} is encrypted: set {ENV_C2PA_KEY_PASSWORD}") from None
    except ValueError:
        # Deliberately vague: neither the key nor the password may reach a message.
        raise C2paKeyError(f"{key_path}: not a PEM private key, or the password in {ENV_C2PA_KEY_PASSWORD} is wrong") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise C2paKeyError(f"{key_path}: ES256 signing needs a P-256 EC key")
    plain = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return chain, plain
