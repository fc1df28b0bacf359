"""Offset network: predictor shapes, flip equivariance, training, weight loading, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from segfix_gui.cli import main
from segfix_gui.core.offsets import flip_bins
from segfix_gui.core.setting import Setting
from segfix_gui.errors import InputError
from segfix_gui.io.offsets import read_offsets
from segfix_gui.model.net import build
from segfix_gui.model.predictor import OffsetPredictor, bundled_path, load_model
from segfix_gui.model.train import offset_loss, save_weights

ROOT = Path(__file__).resolve().parents[2]
CAMVID = ROOT.parent / "shared" / "data" / "camvid"
needs_camvid = pytest.mark.skipif(not (CAMVID / "train").is_dir(), reason=f"CamVid data not found at {CAMVID}")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on a small shared machine, several threads of tiny convolutions
    spin against each other and run many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """Random-init tiny network with non-trivial BN statistics, and a record beside it."""
    torch.manual_seed(0)
    model = build("tiny")
    model.train()
    with torch.no_grad():
        model(torch.rand(2, 3, 64, 64))  # move BN running stats off their init
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    save_weights(path, model.eval())
    path.with_suffix(".json").write_text(
        json.dumps({"recommended": {"threshold": 0.7, "min_direction_prob": 0.4, "scale": 1}})
    )
    return path


def _images(rng, shapes):
    return [rng.integers(0, 256, size=(*s, 3), dtype=np.uint8) for s in shapes]


@pytest.mark.parametrize(
    "recommended,problem",
    [
        ({"scale": 0}, "recommended scale 0 is outside (0, 64]"),
        ({"scale": 100}, "recommended scale 100 is outside (0, 64]"),
        ({"threshold": 1.5}, "recommended threshold 1.5 is outside [0, 1]"),
        ({"threshold": True}, "recommended threshold must be a number, not True"),
        ({"thresh": 0.5}, "recommended unknown setting 'thresh'"),
    ],
)
def test_a_weights_record_is_held_to_the_offset_files_rule(tiny_weights, tmp_path, recommended, problem):
    """One validator for recommended settings: a record the offset files' reader would refuse is
    refused when the weights load, naming the record, instead of failing later in setting()."""
    import shutil

    weights = tmp_path / "w.pt"
    shutil.copy(tiny_weights, weights)
    weights.with_suffix(".json").write_text(json.dumps({"recommended": recommended}))
    with pytest.raises(InputError) as err:
        OffsetPredictor(weights, device="cpu")
    assert str(err.value).startswith(f"{weights.with_suffix('.json')}: {problem}")


def test_predictor_shapes_dtypes_batches(tiny_weights):
    pred = OffsetPredictor(tiny_weights, device="cpu")
    imgs = _images(np.random.default_rng(0), [(40, 56), (33, 70), (40, 56)])
    fields = pred.predict_batch(imgs, batch=2)
    assert [f.shape for f in fields] == [(40, 56), (33, 70), (40, 56)]
    for f, im in zip(fields, imgs, strict=True):
        assert f.boundary.dtype == np.float16 and f.direction.dtype == np.float16  # the storage precision
        assert f.direction.shape == (8,) + im.shape[:2]
        assert 0 <= f.boundary.min() and f.boundary.max() <= 1
        np.testing.assert_allclose(f.direction.astype(np.float32).sum(0), 1, atol=4e-3)
        assert f.recommended == {"threshold": 0.7, "min_direction_prob": 0.4, "scale": 1.0}
        off = f.to_offsets(f.setting())
        assert off.dtype == np.int16 and off.shape == (2,) + im.shape[:2]
    # batching does not change results (beyond float16 rounding of float32 noise: one step)
    single = pred.predict(imgs[2])
    np.testing.assert_allclose(single.boundary, fields[2].boundary, atol=2**-11)
    np.testing.assert_allclose(single.direction, fields[2].direction, atol=2**-11)
    with pytest.raises(ValueError, match="uint8"):
        pred.predict(imgs[0].astype(np.float32))


def test_flip_averaged_prediction_is_mirror_equivariant(tiny_weights):
    pred = OffsetPredictor(tiny_weights, device="cpu", flip=True)
    img = _images(np.random.default_rng(1), [(48, 64)])[0]
    a = pred.predict(img)
    b = pred.predict(np.ascontiguousarray(img[:, ::-1]))
    perm = flip_bins(8, "horizontal")
    np.testing.assert_allclose(b.boundary, a.boundary[:, ::-1], atol=1e-5)
    # bin j of the image is bin perm[j] of the mirrored image
    np.testing.assert_allclose(b.direction[perm], a.direction[:, :, ::-1], atol=1e-5)
    oa = a.to_offsets(Setting(threshold=0.3, scale=2))
    ob = b.to_offsets(Setting(threshold=0.3, scale=2))
    conf = a.direction_confidence()
    sure = (np.sort(a.direction, 0)[-1] - np.sort(a.direction, 0)[-2]) > 1e-4  # no argmax ties
    sure &= np.abs(a.boundary - 0.3) > 1e-4
    assert sure.mean() > 0.9 and conf.shape == (48, 64)
    np.testing.assert_array_equal(ob[0][:, ::-1][sure], oa[0][sure])
    np.testing.assert_array_equal(-ob[1][:, ::-1][sure], oa[1][sure])


def test_tiny_training_lowers_the_loss():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    # two-class images whose border is visible in the image
    labels = np.zeros((4, 32, 32), np.int64)
    for i in range(4):
        labels[i, :, rng.integers(8, 24) :] = 1
    from segfix_gui.core.targets import boundary_targets

    tg = [boundary_targets(lab, width=4) for lab in labels]
    x = torch.from_numpy(labels[:, None].repeat(3, 1).astype(np.float32) * 0.6 + 0.2)
    dist = torch.from_numpy(np.stack([t[2] for t in tg]))
    bins = torch.from_numpy(np.stack([t[1] for t in tg]).astype(np.int64))
    valid = torch.ones_like(bins, dtype=torch.bool)
    model = build("tiny")
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        b, d = model(x)
        loss, _, _ = offset_loss(b, d, dist, bins, valid, boundary_width=2, direction_width=4, near_weight=2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3])


def test_corrupted_or_foreign_weights_give_clear_errors(tmp_path, tiny_weights):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(InputError, match="bad.pt: not a readable weights file"):
        load_model(bad)
    truncated = tmp_path / "trunc.pt"
    truncated.write_bytes(tiny_weights.read_bytes()[:5000])
    with pytest.raises(InputError, match="trunc.pt: not a readable weights file"):
        load_model(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"conv.weight": torch.zeros(3, 3)}, foreign)
    with pytest.raises(InputError, match="not segfix offset-network weights"):
        load_model(foreign)
    mismatched = tmp_path / "mismatch.pt"
    blob = torch.load(tiny_weights, weights_only=True)
    blob["config"] = dict(blob["config"], decoder=32)
    torch.save(blob, mismatched)
    with pytest.raises(InputError, match="do not fit the 'tiny' network"):
        load_model(mismatched)

    class Evil:  # an arbitrary pickled object is refused, never run
        def __reduce__(self):
            return (print, ("ran",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": Evil()}, evil)
    with pytest.raises(InputError, match=r"evil.pt: refused: it would run code"):
        load_model(evil)
    with pytest.raises(InputError, match="not found"):
        load_model(tmp_path / "absent.pt")
    # the CLI turns it into one line and exit status 2
    out = tmp_path / "out"
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    assert (
        main(["predict-offsets", "--images", str(imgs), "--out", str(out), "--weights", str(bad), "--device", "cpu"])
        == 2
    )


def test_predict_offsets_cli_feeds_refine(tmp_path, tiny_weights, capsys):
    from PIL import Image

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(2)
    for name in ("a", "b"):
        Image.fromarray(_images(rng, [(40, 48)])[0]).save(imgs / f"{name}.png")
    (imgs / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "off"
    out.mkdir()
    (out / "broken.npz").write_bytes(b"left by an earlier run")
    rc = main(
        [
            "predict-offsets",
            "--images",
            str(imgs),
            "--out",
            str(out),
            "--weights",
            str(tiny_weights),
            "--device",
            "cpu",
            "--batch",
            "2",
        ]
    )
    assert rc == 2  # the broken file is reported, the others are written
    err = capsys.readouterr().err
    assert "broken.png" in err and "2 offset files written, 1 failed" in err
    # the shared batch loop: an output an earlier run left for the bad image is removed
    assert not (out / "broken.npz").exists() and "was removed" in err
    field = read_offsets(out / "a.npz")
    assert field.shape == (40, 48) and field.k == 8
    assert field.recommended == pytest.approx({"threshold": 0.7, "min_direction_prob": 0.4, "scale": 1.0})
    # .npz feeds `segfix refine`
    preds = tmp_path / "pred"
    preds.mkdir()
    lab = np.zeros((40, 48), np.uint8)
    lab[:, 20:] = 3
    for name in ("a", "b"):
        Image.fromarray(lab).save(preds / f"{name}.png")
    assert (
        main(["refine", "--input", str(preds), "--offset", str(out), "--out", str(tmp_path / "ref"), "--device", "cpu"])
        == 0
    )
    assert (tmp_path / "ref" / "a.png").exists()
    # .mat output: thresholded unit steps
    rc = main(
        [
            "predict-offsets",
            "--images",
            str(imgs),
            "--out",
            str(tmp_path / "mat"),
            "--weights",
            str(tiny_weights),
            "--device",
            "cpu",
            "--format",
            "mat",
        ]
    )
    assert rc == 2
    hard = read_offsets(tmp_path / "mat" / "b.mat")
    assert hard.is_hard and np.abs(hard.hard).max() <= 1


@needs_camvid
def test_train_command_writes_log_checkpoint_and_resumes(tmp_path):
    out = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(CAMVID),
        "--out",
        str(out),
        "--model",
        "tiny",
        "--epochs",
        "1",
        "--batch",
        "2",
        "--crop",
        "64",
        "64",
        "--train-limit",
        "4",
        "--val-limit",
        "2",
        "--device",
        "cpu",
        "--no-pretrained",
    ]
    assert main(args) == 0
    for name in ("log.csv", "last.pt", "weights.pt", "record.json"):
        assert (out / name).exists(), name
    assert main(args) == 2  # refuses to overwrite a run
    resumed = [("2" if a == "1" else a) for a in args] + ["--resume"]
    assert main(resumed) == 0
    rows = (out / "log.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]
    rec = json.loads((out / "record.json").read_text())
    assert rec["epochs"] == 2 and "val_boundary_f" in rec["validation"]
    model, _ = load_model(out / "weights.pt")
    assert model.config["name"] == "tiny"


@pytest.mark.skipif(not bundled_path().exists(), reason="bundled weights not present")
def test_bundled_weights_load_and_predict_on_demo_image():
    from segfix_gui.io.images import read_image

    demo = ROOT / "resources" / "demo" / "image.jpg"
    if not demo.exists():
        demo = next((CAMVID / "val" / "images").glob("*.jpg"))
    image = read_image(demo)
    pred = OffsetPredictor(device="cpu")
    field = pred.predict(image)
    assert field.shape == image.shape[:2] and field.k == 8
    assert set(field.recommended) == {"threshold", "min_direction_prob", "scale"}
    assert bundled_path().stat().st_size <= 20 * 1024 * 1024
    # a trained network marks a minority of pixels as boundary, not none and not all
    frac = float((field.boundary > 0.5).mean())
    assert 0.01 < frac < 0.5


@pytest.mark.skipif(not bundled_path().exists(), reason="bundled weights not present")
def test_a_predicted_field_refines_as_it_will_once_saved(tmp_path):
    """One storage precision: predict -> write -> read -> to_offsets equals the in-memory
    field at every threshold. On the demo frame the network's float32 probabilities move 10
    pixels more at 0.9 than their float16 file (benchmarks/storage_dtype.py): predict() must
    return what the file will hold, not those."""
    from segfix_gui.core.offsets import PROBABILITY_DTYPE, OffsetField
    from segfix_gui.io.images import read_image
    from segfix_gui.io.offsets import write_offsets

    image = read_image(ROOT / "resources" / "demo" / "image.jpg")
    pred = OffsetPredictor(device="cpu")
    field = pred.predict(image)
    assert field.boundary.dtype == field.direction.dtype == PROBABILITY_DTYPE
    write_offsets(tmp_path / "x.npz", field)
    saved = read_offsets(tmp_path / "x.npz")
    b, d = pred.probabilities(np.stack([image]))
    raw = OffsetField(boundary=b[0], direction=d[0])
    differs = 0
    for t in (0.3, 0.5, 0.7, 0.8, 0.9, 0.95):
        for mdp in (0.0, 0.4):
            s = Setting(threshold=t, scale=1, min_direction_prob=mdp)
            np.testing.assert_array_equal(field.to_offsets(s), saved.to_offsets(s))
            differs += int((raw.to_offsets(s) != saved.to_offsets(s)).any())
    assert differs  # the float32 field would not have refined alike: the test sees the difference
