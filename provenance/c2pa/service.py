"""What `verify` and `detect` ask of C2PA: a file's report, read with the configured trust anchors."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from .assertion import token_hint
from .reader import ReadOptions, read_c2pa
from .report import C2paReport


def c2pa_report(path: Path, settings: Settings) -> C2paReport:
    """The file's C2PA report (raises C2paConfigError only for unusable [c2pa] trust anchors)."""
    return read_c2pa(Path(path), ReadOptions.from_settings(settings))


def c2pa_for_verify(path: Path, parts) -> tuple[C2paReport, int | None]:
    """The report and the token id its Provenance assertion names on this deployment (a lookup hint, not proof)."""
    report = c2pa_report(path, parts.settings)
    deployment = parts.chain.deployment
    return report, token_hint(report, deployment.chain_id, deployment.address)


def rendition_writer(out_dir: Path, parts):
    """The writer of signed C2PA copies for `mint --c2pa-out`, with the configured certificate; checked up front."""
    from .writer import CertificateRef, RenditionWriter, SigningIdentity

    identity = SigningIdentity.from_settings(parts.settings)
    deployment = parts.chain.deployment
    writer = RenditionWriter(Path(out_dir), identity, CertificateRef(deployment.chain_id, deployment.address))
    writer.check_folder()
    return writer
