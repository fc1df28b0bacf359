"""Atomic writes (segfix_gui.io.atomic): complete files or nothing, never a half-written one."""

from __future__ import annotations

import os
import stat

import pytest

from segfix_gui.io.atomic import atomic_path, write_bytes, write_text


def test_write_replaces_only_when_complete(tmp_path):
    target = tmp_path / "sub" / "x.txt"
    write_text(target, "first")
    assert target.read_text() == "first"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text() == "first"
    assert os.listdir(target.parent) == ["x.txt"]  # the temporary file is gone


def test_temporary_name_keeps_the_suffix_and_is_hidden(tmp_path):
    with atomic_path(tmp_path / "y.png") as tmp:
        name = os.path.basename(tmp)
        assert name.startswith(".y.") and name.endswith(".part.png")
        open(tmp, "wb").close()
    assert (tmp_path / "y.png").exists()


def test_finished_file_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_bytes(tmp_path / "z.bin", b"\x00\x01")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "z.bin").stat().st_mode) == 0o640
    assert (tmp_path / "z.bin").read_bytes() == b"\x00\x01"
