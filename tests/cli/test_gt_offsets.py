"""``segfix gt-offsets`` on Cityscapes instance maps."""

from __future__ import annotations

import numpy as np

from segfix_gui.cli import main
from segfix_gui.io.images import write_labels
from segfix_gui.io.offsets import read_offsets


def _scene():
    ids = np.full((40, 60), 7, np.uint16)  # road
    ids[:5] = 0  # unlabeled (ignored)
    ids[10:30, 10:30] = 26000  # two cars side by side
    ids[10:30, 30:50] = 26001
    return ids


def test_instance_ids_give_instance_borders(tmp_path):
    ids = _scene()
    (tmp_path / "gt").mkdir()
    write_labels(tmp_path / "gt" / "a_gtFine_instanceIds.png", ids)
    write_labels(tmp_path / "gt" / "a_gtFine_labelIds.png", np.where(ids >= 1000, ids // 1000, ids).astype(np.uint8))
    assert (
        main(
            [
                "gt-offsets",
                "--labels",
                str(tmp_path / "gt"),
                "--out",
                str(tmp_path / "off"),
                "--width",
                "2",
                "--label-space",
                "cityscapes",
            ]
        )
        == 0
    )
    inst = read_offsets(tmp_path / "off" / "a_gtFine_instanceIds.npz")
    cls = read_offsets(tmp_path / "off" / "a_gtFine_labelIds.npz")
    assert (inst.boundary[20, 28:32] == 1).all() and not cls.boundary[20, 28:32].any()
    assert inst.bins()[20, 29] == 0 and inst.bins()[20, 30] == 4
    assert not inst.boundary[:5].any()  # ignored class, as in the label map
    assert (inst.boundary >= cls.boundary).all()


def test_instance_ids_default_to_cityscapes_and_bad_ids_are_named(tmp_path, capsys):
    (tmp_path / "gt").mkdir()
    write_labels(tmp_path / "gt" / "a_gtFine_instanceIds.png", _scene())
    assert main(["gt-offsets", "--labels", str(tmp_path / "gt"), "--out", str(tmp_path / "o")]) == 0
    bad = _scene()
    bad[0, 0] = 40000  # label id 40 does not exist
    write_labels(tmp_path / "gt" / "a_gtFine_instanceIds.png", bad)
    assert main(["gt-offsets", "--labels", str(tmp_path / "gt"), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert "a_gtFine_instanceIds.png" in err and "label id 40 " in err
