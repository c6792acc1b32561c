"""`provenance detect FILE... [--json]`: score media with the detector ensemble."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

import typer
from rich.console import Console
from rich.table import Table

from .output import EXIT_ERROR, command_output, print_error, progress_bar


def file_entry(path: Path, report: dict | None, error: str) -> dict:
    if error:
        return {"file": str(path), "error": error}
    return {"file": str(path), **(report or {})}


def detect_command(
    files: List[Path] = typer.Argument(..., help="images or videos to score"),
    as_json: bool = typer.Option(False, "--json", help="print the JSON envelope (docs/cli.md) instead of a table"),
    workers: int = typer.Option(-1, help="decoding worker processes (-1: automatic)"),
) -> None:
    """Print each file's label, ensemble score and per-detector scores."""
    with command_output("detect", as_json, per_file=True) as out:
        # The detectors import torch: loaded only here, never for a command that runs none.
        from detect.analyze import Analyzer

        analyzer = Analyzer()  # a DeviceError or EnsembleError is a one-line error (detect.errors.DetectError)
        with progress_bar("scoring", len(files), out.human) as progress:
            task = progress.add_task("scoring", total=len(files))
            verdicts = analyzer.analyze_files(
                files, progress=lambda done: progress.update(task, completed=done), workers=None if workers < 0 else workers
            )
        entries = [file_entry(v.path, v.report.to_dict() if v.report else None, v.error) for v in verdicts]
        _add_c2pa(entries)
        for entry in entries:
            out.add_file(entry)
        if out.human:
            _print_table(entries)
        failed = [e for e in entries if "error" in e]
        for entry in failed:
            print_error(entry["error"])
        if failed:
            out.exit_with(EXIT_ERROR)


# Single-command app (tests, stand-alone use); cli.main mounts `detect_command` as `provenance detect`.
app = typer.Typer(help="Score images and videos for manipulation or synthesis.", add_completion=False)
app.command()(detect_command)


def _print_table(entries: list[dict]) -> None:
    # A detector skipped for the same reason on every file (weights not
    # installed) is said once under the table, not repeated in every row.
    common = _skipped_everywhere([entry for entry in entries if "error" not in entry])
    table = Table("file", "label", "score", "threshold", "faces", "detectors")
    for entry in entries:
        if "error" in entry:
            table.add_row(entry["file"], "[red]error[/red]", "", "", "", entry["error"])
            continue
        parts = [_detector_cell(d) for d in entry["detectors"] if (d["name"], d.get("reason")) not in common]
        if entry.get("frames"):
            parts.append(f"frames {', '.join(map(str, entry['frames']))}")
        parts += [f"uncertain: {note}" for note in entry.get("notes", [])]
        table.add_row(
            entry["file"], _label_cell(entry), f"{entry['score']:.3f}", f"{entry['threshold']:.2f}", str(entry["faces"]), "\n".join(parts)
        )
    # Piped output is not wrapped at 80 columns: file paths stay on one line for grep.
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(table)
    for name, reason in sorted(common):
        console.print(f"{name}: skipped ({reason})", markup=False, highlight=False)
    _print_c2pa_lines(console, entries)


def _detector_cell(detector: dict) -> str:
    if detector.get("skipped"):
        return f"{detector['name']}=skipped ({detector['reason']})"
    return f"{detector['name']}={detector['score']:.3f}"


def _skipped_everywhere(scored: list[dict]) -> set[tuple[str, str]]:
    """(name, reason) of the detectors every scored file skipped for that same reason."""
    sets = [{(d["name"], d["reason"]) for d in entry["detectors"] if d.get("skipped")} for entry in scored]
    return set.intersection(*sets) if sets else set()


def _add_c2pa(entries: list[dict]) -> None:
    """Each file's `c2pa` section (docs/verification.md): what its manifest declares, beside the detectors' verdict."""
    from provenance.c2pa.service import c2pa_report
    from provenance.config import load_settings

    settings = load_settings()
    for entry in entries:
        entry["c2pa"] = c2pa_report(Path(entry["file"]), settings).to_dict()


def _label_cell(entry: dict) -> str:
    """The detectors' label, with a generative source the file's C2PA manifest declares right beside it."""
    from rich.markup import escape

    section = entry.get("c2pa") or {}
    if not section.get("generative"):
        return escape(entry["label"])
    from provenance.c2pa.sources import is_generative, term

    declared = ", ".join(term(t) for t in section.get("digital_source_types", []) if is_generative(t))
    return f"{escape(entry['label'])}\n[bold magenta]C2PA declares generative: {escape(declared)}[/]"


def _print_c2pa_lines(console: Console, entries: list[dict]) -> None:
    from rich.markup import escape

    from provenance.c2pa.cli_text import c2pa_line

    for entry in entries:
        section = entry.get("c2pa")
        if section and section.get("state") != "absent":
            console.print(f"{escape(entry['file'])}: {c2pa_line(section)}", highlight=False, soft_wrap=True)
