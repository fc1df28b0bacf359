"""openseg's SegFix checkpoints: equivalence with openseg's own code, strict and safe loading.

The expected outputs (``tests/data/openseg_expected.npz``) come from openseg's
``SegFix_HRNet`` and its tester (``benchmarks/openseg_reference.py``, run on a checkout of
openseg.pytorch) filled with the weights of ``tests/openseg_rule.py``. Here the same weights
are written in openseg's checkpoint format (``module.`` prefix, ``config_dict`` +
``state_dict``) and run through ``segfix predict-offsets --checkpoint`` and the predictor.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openseg_rule import CASES, rule_image, rule_state_dict  # noqa: E402

from segfix_gui.core.offsets import OffsetField  # noqa: E402
from segfix_gui.core.setting import Setting  # noqa: E402
from segfix_gui.errors import InputError  # noqa: E402
from segfix_gui.model.openseg.checkpoint import infer_task, load_checkpoint, read_checkpoint  # noqa: E402
from segfix_gui.model.openseg.nets import build  # noqa: E402
from segfix_gui.model.openseg.predictor import OpensegPredictor, tile_starts  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = np.load(ROOT / "tests" / "data" / "openseg_expected.npz")
# the MODEL_ZOO names: the W48 file is semantic (scale 2), the W20 one an instance model
NAMES = {
    "hrnet48": "segfix_hrnet_hrnet48_segfix_loss_iter80000_1_latest.pth",
    "hrnext20": "segfix_hrnet_hrnext20_segfix_loss_inst_1_latest.pth",
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """``{arch: path}``: rule weights in openseg's format. The W20 config names its
    backbone; the W48 config does not, so its architecture is read from the keys."""
    folder = tmp_path_factory.mktemp("ckpt")
    out, counts = {}, {}
    for arch, backbone in (("hrnet48", None), ("hrnext20", "hrnet2x20")):
        model = build(arch)
        counts[arch] = sum(p.numel() for p in model.parameters())
        state = rule_state_dict({k: v.shape for k, v in model.state_dict().items()})
        config = {"network": {"backbone": backbone}} if backbone else {"data": {"num_classes": 19}}
        path = folder / NAMES[arch]
        torch.save({"config_dict": config, "state_dict": {"module." + k: v for k, v in state.items()}}, path)
        out[arch] = path
        del model, state
    out["counts"] = counts
    return out


@pytest.fixture(scope="module")
def predictors(checkpoints):
    """``{arch: OpensegPredictor}`` on the CPU with 96-pixel crops (stride 32), all the crops of
    a test image in one network call (one call per crop is several times slower on a CPU)."""
    return {
        arch: OpensegPredictor(checkpoints[arch], device="cpu", tile=96, batch=8) for arch in ("hrnet48", "hrnext20")
    }


@pytest.fixture(scope="module")
def computed(predictors):
    """``{case name: (boundary, direction, progress calls)}`` of the small-tile cases, each
    computed once (the network is the slow part) and checked by several tests."""
    out = {}
    for name in ("w48_tile96", "x20_tile96"):
        _, arch, h, w, seed, _tile, _step = case(name)
        seen: list = []
        b, d = predictors[arch].probabilities(rule_image(h, w, seed), progress=lambda *a, seen=seen: seen.append(a))
        out[name] = (b, d, seen)
    return out


def tiny_checkpoint(path, arch="hrnext20", *, drop=(), add=(), config=None, wrap="state_dict"):
    """A small file with openseg's keys for ``arch`` but 1-element tensors (loading fails
    before the values matter)."""
    keys = [k for k in build(arch).state_dict() if k not in drop] + list(add)
    state = {"module." + k: torch.zeros(1) for k in keys}
    blob = state if wrap is None else {wrap: state}
    if config is not None:
        blob["config_dict"] = config
    torch.save(blob, path)
    return path


def case(name):
    return next(c for c in CASES if c[0] == name)


def test_parameter_counts(checkpoints):
    assert round(checkpoints["counts"]["hrnet48"] / 1e6, 1) == 65.7
    assert round(checkpoints["counts"]["hrnext20"] / 1e6, 1) == 47.4


def test_tile_starts_follow_openseg():
    assert tile_starts(2048, 512) == [0, 170, 340, 510, 680, 850, 1020, 1190, 1360, 1530, 1536]
    assert tile_starts(1024, 512) == [0, 170, 340, 510, 512]  # 55 crops per Cityscapes image
    assert tile_starts(512, 512) == [0]
    assert tile_starts(200, 96) == [0, 32, 64, 96, 104]


def _command_line(checkpoints, tmp_path, name, predictors=None, computed=None, monkeypatch=None):
    """``segfix predict-offsets --checkpoint`` on the case's image, in this process, and its
    field read back from the .npz (float16: half a unit in the last place near 1 is 2**-11).
    With ``predictors`` and ``computed`` (the small-tile cases) the command gets the predictor
    already loaded from that checkpoint, after checking what it asked for."""
    _, arch, h, w, seed, _tile, step = case(name)
    from PIL import Image

    from segfix_gui.cli import main
    from segfix_gui.io.offsets import read_offsets
    from segfix_gui.model.openseg import predictor as openseg_predictor

    asked = []
    if computed is not None:
        # the predictor loaded from this checkpoint, its network's output for this image
        # already computed: the command's own path (image read, predict(), .npz written) runs
        pred = copy.copy(predictors[arch])
        b, d, _ = computed[name]

        def probabilities(image, **_kw):
            np.testing.assert_array_equal(image, rule_image(h, w, seed))  # the image the command read
            return b, d

        pred.probabilities = probabilities

        def loaded(path, **kwargs):
            asked.append((Path(path), kwargs))
            return pred

        monkeypatch.setattr(openseg_predictor, "OpensegPredictor", loaded)
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    Image.fromarray(rule_image(h, w, seed)).save(images / "frame.png")
    argv = ["predict-offsets", "--checkpoint", str(checkpoints[arch]), "--images", str(images), "--out", str(out)]
    assert main([*argv, "--device", "cpu"]) == 0
    if computed is not None:
        assert asked == [(checkpoints[arch], {"arch": None, "device": "cpu", "task": None})]
    field = read_offsets(out / "frame.npz")
    tol = 1e-4 + 2**-11
    np.testing.assert_allclose(field.boundary[::step, ::step], EXPECTED[f"{name}_boundary"], atol=tol)
    np.testing.assert_allclose(field.direction[:, ::step, ::step], EXPECTED[f"{name}_direction"], atol=tol)
    scale = 1.0 if "_inst" in NAMES[arch] else 2.0
    assert field.recommended == {"threshold": 0.5, "scale": scale, "min_direction_prob": 0.0}


@pytest.mark.parametrize("name", ["w48_tile96", "x20_tile96"])
def test_command_line_matches_openseg(checkpoints, predictors, computed, tmp_path, monkeypatch, name):
    """The command line with each checkpoint (the W48 file's architecture read from its keys,
    the W20 file an instance model by its name: scale 1): the .npz holds openseg's figures
    through the float16 storage."""
    _command_line(checkpoints, tmp_path, name, predictors, computed, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["w48_tile512", "x20_tile512"])
def test_command_line_matches_openseg_with_its_512_tiles(checkpoints, tmp_path, name):
    """openseg's own protocol end to end (the checkpoint loaded by the command, 512 crops, the
    image padded to one crop): the same code as the small-tile cases with openseg's tile,
    30-60 s on a 2-core CPU (``pytest -m slow``)."""
    _command_line(checkpoints, tmp_path, name)


@pytest.mark.parametrize("name", ["w48_tile96", "x20_tile96"])
def test_predictor_matches_openseg_over_tiles(predictors, computed, name):
    _, arch, h, w, seed, tile, step = case(name)
    pred = predictors[arch]
    assert (pred.arch, pred.tile) == (arch, tile)
    b, d, seen = computed[name]
    assert seen == [(0, 5), (5, 5)]  # 1 row × 5 columns of crops, in one batch
    np.testing.assert_allclose(b[::step, ::step], EXPECTED[f"{name}_boundary"], atol=1e-4)
    np.testing.assert_allclose(d[:, ::step, ::step], EXPECTED[f"{name}_direction"], atol=1e-4)
    # openseg's own 0.5 threshold and direction table give the same unit steps, except
    # where a value sits within rounding of a decision
    field = OffsetField(boundary=b, direction=d)
    ours = field.to_offsets(Setting(threshold=0.5, scale=1))
    top2 = np.sort(d, 0)[-2:]
    clear = (np.abs(b - 0.5) > 1e-4) & (top2[1] - top2[0] > 1e-4)
    theirs = EXPECTED[f"{name}_offsets"]
    assert clear.mean() > 0.99 and (theirs != 0).any() and (theirs == 0).any()
    np.testing.assert_array_equal(ours[:, clear], theirs[:, clear])


def test_progress_and_cancel_between_crops(predictors):
    """One crop per call: progress after each, and ``check()`` before each can cancel (the
    tiling loop; a stand-in network keeps it cheap)."""
    pred = copy.copy(predictors["hrnext20"])
    pred.batch = 1
    pred.model = lambda x: (torch.zeros(len(x), 2, 24, 24), torch.zeros(len(x), 8, 24, 24))
    seen = []
    field = pred.predict(rule_image(88, 200), progress=lambda d, n: seen.append((d, n)))
    assert seen == [(i, 5) for i in range(6)] and field.shape == (88, 200)
    calls = []

    def check():
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pred.predict(rule_image(88, 200), check=check)
    assert len(calls) == 3  # two crops ran, the third was never started


def test_gui_predict_field_uses_the_checkpoint(tmp_path):
    from segfix_gui.session.compute import predict_field

    reports = []
    path = tiny_checkpoint(tmp_path / "x20.pth")
    with pytest.raises(InputError, match="x20.pth: weights do not fit openseg's SegFix hrnext20"):
        predict_field(rule_image(64, 64), checkpoint=path, device="cpu", report=lambda *a: reports.append(a))
    assert reports == [(0, 1, "loading the checkpoint")]


def test_strict_loading_names_missing_and_unexpected_keys(tmp_path, capsys):
    from segfix_gui.cli import main

    path = tiny_checkpoint(
        tmp_path / "bad.pth",
        drop=["mask_head.1.running_var"],
        add=["dir_head.1.num_batches_tracked"],
        config={"network": {"backbone": "hrnet2x20"}},
    )
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    Image.fromarray(rule_image(32, 32)).save(images / "a.png")
    rc = main(
        [
            "predict-offsets",
            "--checkpoint",
            str(path),
            "--images",
            str(images),
            "--out",
            str(tmp_path / "out"),
            "--device",
            "cpu",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert str(path) in err
    assert "1 missing keys (mask_head.1.running_var)" in err
    assert "1 unexpected keys (dir_head.1.num_batches_tracked)" in err


def test_wrong_shapes_and_wrong_arch(tmp_path):
    path = tiny_checkpoint(tmp_path / "x20.pth")  # no config: the keys say hrnext20
    with pytest.raises(InputError, match=r"conv1.weight has shape \(1,\), expected \(64, 3, 3, 3\)"):
        load_checkpoint(path)
    with pytest.raises(InputError, match="holds an hrnext20 network, not hrnet48"):
        load_checkpoint(path, arch="hrnet48")
    cfg = tiny_checkpoint(tmp_path / "w48cfg.pth", "hrnext20", config={"network": {"backbone": "hrnet48"}})
    with pytest.raises(InputError, match="holds an hrnet48 network, not hrnext20"):
        load_checkpoint(cfg, arch="hrnext20")
    none = tmp_path / "none.pth"
    torch.save({"state_dict": {"module.head.weight": torch.zeros(1)}}, none)
    with pytest.raises(InputError, match="cannot tell the architecture"):
        load_checkpoint(none)


@pytest.mark.parametrize("wrap", ["state_dict", "model", None])
def test_checkpoint_layouts_and_prefix(tmp_path, wrap):
    path = tiny_checkpoint(tmp_path / "c.pth", "hrnet48", wrap=wrap)
    state, config = read_checkpoint(path)
    assert "backbone.layer1.0.conv1.weight" in state and not any(k.startswith("module.") for k in state)
    assert config == {}


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"module.x": torch.zeros(1)}, "extra": Evil()}, path)
    with pytest.raises(InputError, match=r"refused: it would run code \(it would call posix.system\)"):
        load_checkpoint(path)
    assert not marker.exists()
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        load_checkpoint(junk)


def test_task_from_name_or_config(tmp_path):
    assert infer_task("segfix_hrnet_hrnext20_segfix_loss_inst_1_latest.pth") == "instance"
    assert infer_task("segfix_hrnet_hrnext20_segfix_loss_trainval_1_latest.pth") == "semantic"
    assert infer_task("model.pth", {"checkpoints": {"checkpoints_name": "x_segfix_loss_inst_1"}}) == "instance"
