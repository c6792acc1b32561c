"""provenance/atomic_write.py: `dest` appears whole or not at all (used by `ipfs cat -o`, CAR export, C2PA copies)."""

from __future__ import annotations

import pytest

from provenance.atomic_write import temp_then_replace


def test_written_file_replaces_dest_and_no_temporary_stays(tmp_path):
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"old")
    with temp_then_replace(dest, "partial") as tmp:
        assert tmp.parent == dest.parent and tmp.name == ".out.bin.partial"
        tmp.write_bytes(b"new")
        assert dest.read_bytes() == b"old"  # not visible until the block ends
    assert dest.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_part_way_keeps_the_old_file_and_removes_the_temporary(tmp_path, error):
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"old")
    with pytest.raises(type(error)):
        with temp_then_replace(dest, "partial") as tmp:
            tmp.write_bytes(b"half")
            raise error
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_failure_before_anything_is_written_leaves_no_dest(tmp_path):
    dest = tmp_path / "new.bin"
    with pytest.raises(ValueError):
        with temp_then_replace(dest, "c2pa-tmp"):
            raise ValueError("signing failed")
    assert list(tmp_path.iterdir()) == []
