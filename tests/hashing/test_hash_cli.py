"""The `provenance hash` command, run through Typer on real files."""

from __future__ import annotations

import hashlib

import imagehash
import typer
from typer.testing import CliRunner

from cli.hash_cmd import hash_command
from tests.cli_json import envelope, files

from .conftest import photo_like


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("hash")(hash_command)

    @app.command("noop", hidden=True)
    def _noop() -> None:  # a second command keeps Typer from collapsing to a single one
        pass

    return app


def test_hash_prints_all_fields_and_reports_bad_files(tmp_path):
    image = photo_like(61)
    good = tmp_path / "photo.png"
    image.save(good)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    runner = CliRunner()
    result = runner.invoke(_app(), ["hash", str(good), str(text), str(tmp_path / "gone.jpg"), "--json"])
    assert result.exit_code == 1
    records = files(result.stdout)
    assert [r["file"] for r in records] == [str(good), str(text), str(tmp_path / "gone.jpg")]
    first = records[0]
    assert first["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()
    assert first["phash"] == str(imagehash.phash(image))
    assert len(first["pdq"]) == 64 and 0 <= first["pdq_quality"] <= 100
    assert first["cid"].startswith("b")  # CIDv1, base32
    assert "error" in records[1] and "error" in records[2]
    errors = envelope(result.stdout, "hash")["errors"]
    assert [e["file"] for e in errors] == [str(text), str(tmp_path / "gone.jpg")]
    assert errors[1]["type"] == "FileNotFoundError" or "MediaError" in errors[1]["type"], errors
    assert "Traceback" not in result.output


def test_hash_text_output_and_success_exit(tmp_path):
    good = tmp_path / "a.jpg"
    photo_like(62).save(good, quality=90)
    result = CliRunner().invoke(_app(), ["hash", str(good)])
    assert result.exit_code == 0
    assert "phash" in result.stdout and "pdq_quality" in result.stdout and "sha256" in result.stdout
