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


# --- the output guard (issue 19) -----------------------------------------------------------------


def _guarded(tmp_path):
    from segfix_gui.io.atomic import OutputGuard

    inp, out = tmp_path / "in", tmp_path / "out"
    (inp / "a").mkdir(parents=True)
    (inp / "a" / "x.png").write_bytes(b"input")
    out.mkdir()
    return inp, out, OutputGuard.for_output(out, inp)


def test_guard_refuses_writes_and_removals_by_real_path_and_makes_no_folder(tmp_path):
    from segfix_gui.errors import InputError
    from segfix_gui.io.atomic import remove_output

    inp, out, guard = _guarded(tmp_path)
    (out / "a").symlink_to(inp / "a", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    (out / "b").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with guard.active():
        for target, why in (
            (out / "a" / "x.png", f"it is inside the input folder {inp} (real path {inp / 'a' / 'x.png'})"),
            (out / "a" / "new" / "y.png", "it is inside the input folder"),
            (out / "b" / "new" / "y.png", f"it is outside the output folder {out}"),
        ):
            with pytest.raises(InputError) as err:
                write_text(target, "output")
            assert str(err.value).startswith(f"{target}: refused: {why}")
        with pytest.raises(InputError):
            remove_output(out / "a" / "x.png")
        write_text(out / "fine" / "z.txt", "ok")
    assert (inp / "a" / "x.png").read_bytes() == b"input"
    assert sorted(p.name for p in (inp / "a").iterdir()) == ["x.png"]
    assert list((tmp_path / "elsewhere").iterdir()) == []
    assert (out / "fine" / "z.txt").read_text() == "ok"
    write_text(out / "b" / "free.txt", "no guard active: written")  # the guard applies only while active
    assert (tmp_path / "elsewhere" / "free.txt").exists()


def test_guard_covers_what_links_inside_an_input_lead_to(tmp_path):
    from segfix_gui.io.atomic import OutputGuard

    city, data = tmp_path / "city", tmp_path / "data"
    city.mkdir()
    data.mkdir()
    (data / "x.png").write_bytes(b"x")
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "linked").symlink_to(city, target_is_directory=True)
    (inp / "loop").symlink_to(inp, target_is_directory=True)
    (inp / "x.png").symlink_to(data / "x.png")
    guard = OutputGuard.for_output(tmp_path / "out", inp)
    assert "inside the input folder" in guard.reason(city / "y.png")
    assert "is the input file" in guard.reason(data / "x.png")
    assert guard.reason(data / "other.png") == f"it is outside the output folder {tmp_path / 'out'}; " + (
        "outputs are written only inside it"
    )
    assert guard.reason(tmp_path / "out" / "x.png") is None


def test_guard_refuses_both_inputs_of_one_output(tmp_path, monkeypatch):
    import pickle

    import segfix_gui.io.atomic as atomic

    _, out, guard = _guarded(tmp_path)
    pairs = [("in/x.png", out / "x.npz"), ("in/x.PNG", out / "x.npz"), ("in/y.png", out / "y.npz")]
    errors = guard.refuse(pairs)
    assert sorted(errors) == [0, 1]
    assert errors[0] == f"in/x.png: refused: in/x.PNG would be written to the same output {out / 'x.npz'}: " + (
        "rename one of them"
    )
    # names differing only in case collide where the folder ignores case (probed)
    pairs = [("in/x.png", out / "x.png"), ("in/X.png", out / "X.png")]
    assert guard.refuse(pairs) == {}  # this folder tells them apart
    monkeypatch.setattr(atomic, "_ignores_case", lambda path, root=None: True)
    assert sorted(guard.refuse(pairs)) == [0, 1]
    # a batch's worker processes get the guard with their work
    again = pickle.loads(pickle.dumps(guard))
    assert again.reason(tmp_path / "in" / "a" / "x.png") == guard.reason(tmp_path / "in" / "a" / "x.png")


def test_case_probe_leaves_nothing_behind_and_stays_inside_out(tmp_path):
    from segfix_gui.io.atomic import _ignores_case

    assert _ignores_case(str(tmp_path / "not" / "yet" / "x.png")) in (True, False)
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "out"
    assert _ignores_case(str(out / "sub" / "x.png"), root=str(out)) in (True, False)
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and list(out.iterdir()) == []
