"""openseg's own usage, drop-in: ``segfix refine`` / ``refine-instances`` with ``--split val|test``
and no ``--offset`` / ``--out`` take openseg's folders under a fake ``DATA_ROOT`` (made here from
``../shared/data/cityscapes_mini``), write what the explicit command writes, byte for byte, and on
val print the figures ``segfix evaluate`` / ``evaluate-instances`` print."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from make_instance_fixture import DATA, FRAME, make_fixture
from PIL import Image

from segfix_gui.cli import main
from segfix_gui.core.degrade import degrade
from segfix_gui.labels import get_label_space

pytestmark = pytest.mark.skipif(not (DATA / "gtFine").is_dir(), reason=f"cityscapes_mini not found in {DATA}")

NAME = f"{FRAME}_leftImg8bit.png"  # openseg's val/label files are named as the images
SEM_OFF = Path("cityscapes", "val", "offset_pred", "semantic", "offset_hrnext")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def semantic(tmp_path, monkeypatch, capsys):
    """A fake ``$DATA_ROOT`` (val ground truth and val offsets, hard ``.mat`` as openseg's tester
    writes them) and ``run/label`` (stride-8 coarse predictions); the cwd is ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "data"
    gt_dir = root / "cityscapes" / "val" / "label"
    gt_dir.mkdir(parents=True)
    shutil.copyfile(DATA / "gtFine" / "val" / "frankfurt" / f"{FRAME}_gtFine_labelIds.png", gt_dir / NAME)
    gt = np.asarray(Image.open(gt_dir / NAME))
    (tmp_path / "run" / "label").mkdir(parents=True)
    Image.fromarray(degrade(gt, get_label_space("cityscapes"), stride=8)).save(tmp_path / "run" / "label" / NAME)
    args = ["gt-offsets", "--labels", str(gt_dir), "--out", str(root / SEM_OFF), "--format", "mat"]
    assert main([*args, "--label-space", "cityscapes"]) == 0
    monkeypatch.setenv("DATA_ROOT", str(root))
    capsys.readouterr()
    return root


def test_refine_split_val_takes_openseg_folders_and_prints_the_evaluation(semantic, capsys):
    root = semantic
    assert main(["refine", "--input", "run/label", "--offset", str(root / SEM_OFF), "--out", "explicit"]) == 0
    capsys.readouterr()
    assert main(["refine", "--input", "run/label", "--split", "val"]) == 0
    out = capsys.readouterr().out
    assert f"offsets: {root / SEM_OFF}\n" in out and "writing to run/label_w_segfix\n" in out
    assert _files(Path("run/label_w_segfix")) == _files(Path("explicit")) != {}
    gt = root / "cityscapes" / "val" / "label"
    rc = main(
        ["evaluate", "--gt", str(gt), "--pred", "run/label", "--refined", "explicit", "--label-space", "cityscapes"]
    )
    assert rc == 0
    evaluation = capsys.readouterr().out
    assert "1 images, label space cityscapes" in evaluation
    assert out.endswith("1 refined label maps written\n\n" + evaluation)


def test_refine_split_test_takes_the_test_offsets_and_does_not_evaluate(semantic, capsys):
    root = semantic
    shutil.copytree(root / SEM_OFF, root / "cityscapes" / "test_offset" / "semantic" / "offset_hrnext")
    shutil.rmtree(root / "cityscapes" / "val")  # test has no ground truth: nothing under val is read
    assert main(["refine", "--input", "run/label", "--split", "test", "--scale", "1"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("writing to run/label_w_segfix\n1 refined label maps written\n")
    off = root / "cityscapes" / "test_offset" / "semantic" / "offset_hrnext"
    assert main(["refine", "--input", "run/label", "--offset", str(off), "--out", "x", "--scale", "1"]) == 0
    assert _files(Path("run/label_w_segfix")) == _files(Path("x"))


def test_explicit_offset_and_out_win_over_the_split_defaults(semantic, capsys):
    moved = semantic / "elsewhere"
    shutil.move(semantic / SEM_OFF, moved)
    assert main(["refine", "--input", "run/label", "--split", "val", "--offset", str(moved), "--out", "mine"]) == 0
    assert "writing to mine\n" in capsys.readouterr().out
    assert list(_files(Path("mine"))) == [NAME] and not Path("run/label_w_segfix").exists()


def test_default_out_inside_the_input_is_never_read_back(semantic, capsys):
    """Without ``/label`` in the input path openseg writes ``<input>/label_w_segfix``: a second
    run neither refines its own outputs nor trips over them."""
    shutil.move("run/label", "preds")
    for _ in range(2):
        assert main(["refine", "--input", "preds", "--split", "val"]) == 0
        out = capsys.readouterr().out
        assert "writing to preds/label_w_segfix\n1 refined label maps written\n" in out
        assert "1 images, label space cityscapes" in out
    assert set(_files(Path("preds"))) == {NAME, f"label_w_segfix/{NAME}"}


def test_refine_split_val_does_not_evaluate_part_of_the_set(semantic, capsys):
    shutil.copyfile(Path("run/label") / NAME, "run/label/no_offsets.png")
    assert main(["refine", "--input", "run/label", "--split", "val"]) == 2
    cap = capsys.readouterr()
    assert "no offsets file for this prediction" in cap.err
    assert "segfix: not evaluated against " in cap.err and "label space" not in cap.out


def test_default_out_replaces_every_slash_label_as_openseg_does():
    from segfix_gui.cli._openseg_defaults import default_out

    assert default_out("run/label", "semantic") == "run/label_w_segfix"
    assert default_out("/d/labels/x/label", "semantic") == "/d/label_w_segfixs/x/label_w_segfix"
    assert default_out("preds", "semantic") == "preds/label_w_segfix"
    assert default_out("run/label", "instance") == "run/label/label_w_segfix"  # the instance script always appends


@pytest.mark.parametrize(
    "case",
    [
        "no DATA_ROOT",
        "empty DATA_ROOT",
        "no split",
        "default offsets missing",
        "ground truth missing",
        "val, no DATA_ROOT",
    ],
)
def test_refine_bad_set_ups_are_one_line_and_exit_2(semantic, capsys, monkeypatch, case):
    argv = ["refine", "--input", "run/label", "--split", "val"]
    if case == "no DATA_ROOT":
        monkeypatch.delenv("DATA_ROOT")
        expect = "DATA_ROOT is not set: set DATA_ROOT or give --offset"
    elif case == "empty DATA_ROOT":
        monkeypatch.setenv("DATA_ROOT", "")
        expect = "DATA_ROOT is not set: set DATA_ROOT or give --offset"
    elif case == "no split":
        argv = ["refine", "--input", "run/label"]
        expect = "the following arguments are required: --offset, --out (or --split val|test"
    elif case == "default offsets missing":
        argv[-1] = "test"
        off = semantic / "cityscapes" / "test_offset" / "semantic" / "offset_hrnext"
        expect = f"{off}: offsets folder not found (openseg's default for --split test, under DATA_ROOT; give --offset"
    elif case == "ground truth missing":
        shutil.rmtree(semantic / "cityscapes" / "val" / "label")
        gt = semantic / "cityscapes/val/label"
        expect = f"{gt}: ground-truth folder not found (openseg's ground truth for --split val, under DATA_ROOT"
    else:
        monkeypatch.delenv("DATA_ROOT")
        argv += ["--offset", str(semantic / SEM_OFF)]
        expect = "evaluates against $DATA_ROOT/cityscapes/val/label, and DATA_ROOT is not set"
    assert main(argv) == 2
    line = _one_error(capsys)
    assert line.startswith("segfix: error: ") and expect in line, line
    assert not Path("run/label_w_segfix").exists()


@pytest.mark.parametrize("how", ["is the input (a link)", "holds the offsets"])
def test_a_default_out_that_would_be_or_hold_an_input_is_refused(semantic, capsys, how):
    argv = ["refine", "--input", "run/label", "--split", "val"]
    if how == "is the input (a link)":
        Path("run/label_w_segfix").symlink_to("label", target_is_directory=True)
    else:
        shutil.move(semantic / SEM_OFF, "run/label_w_segfix/off")
        argv += ["--offset", "run/label_w_segfix/off"]
    before = _files(Path("run"))
    assert main(argv) == 2
    line = _one_error(capsys)
    assert line.startswith("segfix: error: run/label_w_segfix: the output folder must not")
    assert line.endswith("(this is openseg's default --out: give --out)")
    assert _files(Path("run")) == before


@pytest.fixture(scope="module")
def instance_fixture(tmp_path_factory):
    return make_fixture(tmp_path_factory.mktemp("instfx"))


@pytest.fixture
def instances(instance_fixture, tmp_path, monkeypatch, capsys):
    """``$DATA_ROOT`` with val instance offsets; ``pred`` a copy of the fixture's predictions."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "data"
    shutil.copytree(instance_fixture["offsets_gt"], root / "cityscapes/val/offset_pred/instance/offset_hrnext")
    shutil.copytree(instance_fixture["pred"], tmp_path / "pred")
    monkeypatch.setenv("DATA_ROOT", str(root))
    monkeypatch.delenv("CITYSCAPES_DATASET", raising=False)
    capsys.readouterr()
    return root, instance_fixture["gt"].parent  # (DATA_ROOT, the Cityscapes folder holding gtFine)


def test_refine_instances_split_val_refines_and_prints_the_ap(instances, capsys, monkeypatch):
    root, dataset = instances
    off = root / "cityscapes/val/offset_pred/instance/offset_hrnext"
    assert main(["refine-instances", "--input", "pred", "--offset", str(off), "--out", "explicit"]) == 0
    capsys.readouterr()
    assert (
        main(["evaluate-instances", "--gt", str(dataset / "gtFine/val"), "--pred", "pred", "--refined", "explicit"])
        == 0
    )
    evaluation = capsys.readouterr().out
    assert "1 image\n" in evaluation and "average" in evaluation
    assert main(["refine-instances", "--input", "pred", "--split", "val", "--dataset_dir", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert f"ground truth: {dataset / 'gtFine/val'}\nwriting to pred/label_w_segfix\n" in out
    assert out.endswith("masks refined\n\n" + evaluation)
    assert _files(Path("pred/label_w_segfix")) == _files(Path("explicit")) != {}
    # --eval-only scores what is there without refining; CITYSCAPES_DATASET names the dataset
    monkeypatch.setenv("CITYSCAPES_DATASET", str(dataset))
    shutil.rmtree(root)  # no offsets needed
    assert main(["refine-instances", "--input", "pred", "--split", "val", "--eval_only"]) == 0
    assert (
        capsys.readouterr().out
        == f"ground truth: {dataset / 'gtFine/val'}\nevaluating pred/label_w_segfix\n" + evaluation
    )


@pytest.mark.parametrize("case", ["no dataset", "dataset without gtFine", "eval-only on test", "eval-only, no output"])
def test_refine_instances_bad_set_ups_are_one_line_and_exit_2(instances, capsys, tmp_path, case):
    _, dataset = instances
    argv = ["refine-instances", "--input", "pred", "--split", "val"]
    if case == "no dataset":
        expect = "give --dataset-dir or set CITYSCAPES_DATASET"
    elif case == "dataset without gtFine":
        argv += ["--dataset-dir", str(tmp_path)]
        expect = f"{tmp_path / 'gtFine/val'}: ground-truth folder not found (--split val; set by --dataset-dir)"
    elif case == "eval-only on test":
        argv[-1] = "test"
        argv += ["--eval-only"]
        expect = "--eval-only scores the output against the val ground truth: it needs --split val"
    else:
        argv += ["--eval-only", "--dataset-dir", str(dataset)]
        expect = "pred/label_w_segfix: refined predictions folder not found (--eval-only scores it; set by openseg's"
    assert main(argv) == 2
    line = _one_error(capsys)
    assert expect in line, line
    assert not Path("pred/label_w_segfix").exists()
