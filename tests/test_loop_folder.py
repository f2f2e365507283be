"""The loop on your own data and model: an image folder (images of several sizes), a factory
model (SegFormer from a config), the simulated / CSV / web oracles, resume, a user train_step;
and the engine's pieces on images of different sizes (padding, valid, ignore, background)."""

from __future__ import annotations

import csv
import json
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("PIL")
pytest.importorskip("transformers")

from PIL import Image  # noqa: E402

from alsel.cli import main  # noqa: E402
from alsel.datasets import IGNORE, ArrayImageSet, LabelSpace  # noqa: E402
from alsel.loop import train as train_module  # noqa: E402
from alsel.loop.config import load_config  # noqa: E402
from alsel.loop.engine import make_oracle, make_source, run_experiment  # noqa: E402
from alsel.loop.metrics import evaluate  # noqa: E402
from alsel.loop.oracles import OracleStopped  # noqa: E402
from alsel.loop.scoring import presence_and_features  # noqa: E402
from alsel.loop.store import AnswerStore  # noqa: E402
from alsel.loop.train import TrainBatch, TrainConfig, train_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "own_data"
sys.path.insert(0, str(EXAMPLE))
from make_data import make_data  # noqa: E402

N_POOL, N_TEST, N_L = 10, 4, 3


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("own") / "data", images=N_POOL, test=N_TEST)


def _tiny(data: Path, **sections) -> dict:
    """The example's config (examples/own_data/config.toml) at a tiny size."""
    config = tomllib.loads((EXAMPLE / "config.toml").read_text())
    config["data"].update(root=str(data / "pool"), test_root=str(data / "test"), labeled=N_L,
                          unlabeled=N_POOL - N_L)
    config["train"].update(steps=2, epochs=1, batch_size=4)
    config["loop"].update(iterations=1, budget=6, c_max=2)
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    return config


def _truth(data: Path, name: str) -> np.ndarray:
    """Which digits 0-9 a pool mask file holds (read here with PIL, not through alsel)."""
    values = np.unique(np.asarray(Image.open(data / "pool" / "masks" / name.replace("images/", ""))))
    return np.isin(np.arange(10), values)


def test_the_example_runs_with_alsel_run_on_a_folder_and_a_segformer(data, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_tiny(data)))
    out = tmp_path / "run"
    assert main(["run", str(config), "-o", str(out), "--no-progress"]) == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert sorted((r["strategy"], r["iteration"]) for r in rows) == [
        (s, i) for s in ("pixel-random", "proposed", "rr") for i in ("0", "1")]
    assert all(0 <= float(r["miou"]) <= 100 for r in rows)
    store = AnswerStore.load(out / "stores" / "proposed-seed0.json")
    files = sorted(p.name for p in (data / "pool" / "images").iterdir())
    assert store.classes == [str(d) for d in range(10)]             # the queried labels, no background
    assert set(store.image_names) <= set(files) | {f"images/{f}" for f in files}
    assert store.n_answers == 6
    for (image, cls), present in store.answers().items():           # simulated from the mask files
        assert present == _truth(data, Path(store.image_names[image]).name)[cls]
    assert json.loads((out / "config.json").read_text())["model"]["factory"] == "alsel.models.hf:segformer"
    before = (out / "results.csv").read_text()
    assert main(["run", str(config), "-o", str(out), "--no-progress"]) == 0    # resume: nothing to do
    assert (out / "results.csv").read_text() == before


def test_a_folder_run_with_the_csv_oracle_stops_and_resumes_from_the_filled_file(data, tmp_path):
    config = load_config(overrides=_tiny(data, loop={"oracle": "csv", "strategies": ["rr"]}))
    out = tmp_path / "run"
    with pytest.raises(OracleStopped, match="fill in the answer column"):
        run_experiment(config, out, plots=False)
    sheet = out / "queries" / "rr-seed0-round0.csv"
    rows = list(csv.DictReader(sheet.open()))
    assert len(rows) == 6 and all(r["name"].endswith(".png") for r in rows)  # the files, by name
    for r in rows:
        r["answer"] = "yes" if _truth(data, Path(r["name"]).name)[int(r["class"])] else "no"
    with sheet.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = run_experiment(config, out, plots=False)
    assert sorted(r["iteration"] for r in result) == [0, 1]
    store = AnswerStore.load(out / "stores" / "rr-seed0.json")
    assert {(int(r["image"]), int(r["class"])): r["answer"] == "yes" for r in rows} == store.answers()


def test_the_web_oracle_serves_the_data_sets_own_files(data, tmp_path):
    from alsel.annotate.oracle import WebOracle

    config = load_config(overrides=_tiny(data, loop={"oracle": "web", "strategies": ["rr"]}, web={"port": 0}))
    split = make_source(config).load(0)
    store = AnswerStore.create(tmp_path / "s.json", len(split.pool), split.pool.labels.query_names,
                               image_names=[split.pool.name(i) for i in range(len(split.pool))])
    try:
        oracle = make_oracle(config, split.pool, tmp_path, "rr", 0, store)
        assert oracle.images.root == split.pool.root
        assert oracle.images.names == store.image_names
    finally:
        WebOracle.close_all()
    assert not (tmp_path / "images").exists()                       # no PNG copies written


calls: list[TrainBatch] = []


def counting_step(model, batch):
    """A user's step: alsel's public loss, as docs/loop.md shows it."""
    from alsel.torch import binary_feedback_loss

    calls.append(batch)
    logits = torch.nn.functional.interpolate(model(batch.images).logits, size=batch.masks.shape[-2:],
                                             mode="bilinear", align_corners=False)
    loss = torch.nn.functional.cross_entropy(logits, batch.masks, ignore_index=IGNORE)
    return loss + binary_feedback_loss(logits, batch.answers, classes=batch.classes, valid=batch.valid)


@pytest.mark.parametrize("how", ["python", "config"])
def test_a_user_train_step_trains_every_round(data, tmp_path, monkeypatch, how):
    calls.clear()
    overrides = _tiny(data, loop={"strategies": ["rr"]})
    if how == "config":
        (tmp_path / "user_steps.py").write_text(
            "from tests_step_target import counting_step as step\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.setitem(sys.modules, "tests_step_target", sys.modules[__name__])
        overrides["train"]["train_step"] = "user_steps:step"
        rows = run_experiment(load_config(overrides=overrides), tmp_path / "run", plots=False)
    else:
        rows = run_experiment(load_config(overrides=overrides), tmp_path / "run", plots=False,
                              train_step=counting_step)
        saved = json.loads((tmp_path / "run" / "config.json").read_text())
        assert saved["train"]["train_step"].endswith(":counting_step")
    assert sorted(r["iteration"] for r in rows) == [0, 1]
    assert len(calls) == 2 * 2                                       # 2 rounds x steps = 2
    for batch in calls:
        n = len(batch.images)
        assert batch.images.shape[-2:] == batch.masks.shape[-2:] == batch.valid.shape[-2:]
        assert batch.images.shape[-1] % 32 == 0 and batch.images.shape[-2] % 32 == 0   # SegFormer's divisor
        assert batch.answers.shape == (n, 10) and batch.classes == tuple(range(10))
        assert bool((batch.masks[~batch.valid] == IGNORE).all())     # padding is never a label


# ------------------------------------------------------------------------------ the pieces
LABELS = LabelSpace(("bg", "a", "b"), background=0)


class PointWise(torch.nn.Module):
    """Logits from a 1x1 convolution: each pixel's output depends on that pixel only."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 3, 1)

    def forward(self, x):
        return self.conv(x)


def _mixed_sizes():
    rng = np.random.default_rng(0)
    shapes = [(5, 7), (8, 4), (6, 6), (3, 9), (7, 5)]
    images = [rng.random((1, *s), dtype=np.float32) for s in shapes]
    masks = [rng.integers(0, 3, size=s) for s in shapes]
    masks[1][0, :] = IGNORE
    return images, masks


def test_pool_scores_over_images_of_different_sizes_equal_each_image_alone():
    images, masks = _mixed_sizes()
    model = PointWise()
    scores = presence_and_features(model, ArrayImageSet(images, masks, LABELS), LABELS.queryable, batch_size=3)
    with torch.no_grad():
        for k, image in enumerate(images):
            logits = model(torch.from_numpy(image)[None])[0]        # (3, h, w), this image only
            prob = torch.softmax(logits, dim=0)
            assert np.allclose(scores.presence[k], prob.mean(dim=(1, 2))[[1, 2]].numpy(), atol=1e-6)
            assert np.allclose(scores.features[k], logits.mean(dim=(1, 2)).numpy(), atol=1e-5)
            entropy = -(prob * prob.log()).sum(dim=0).mean()
            assert scores.pixel_entropy[k] == pytest.approx(float(entropy), abs=1e-5)


class AllLabelOne(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bias = torch.nn.Parameter(torch.tensor([0.0, 5.0, 0.0]))

    def forward(self, x):
        return self.bias[None, :, None, None].expand(len(x), 3, *x.shape[-2:])


def test_miou_over_images_of_different_sizes_leaves_out_padding_and_ignore():
    images, masks = _mixed_sizes()
    miou = evaluate(AllLabelOne(), ArrayImageSet(images, masks, LABELS), 3, batch_size=2)
    truth = np.concatenate([m.ravel() for m in masks])
    truth = truth[truth != IGNORE]
    # every pixel predicted 1: IoU(1) = |truth 1| / |labelled pixels|, IoU(0) = IoU(2) = 0
    assert miou == pytest.approx(100 * np.mean([0, (truth == 1).sum() / truth.size, 0]))


def test_the_background_weight_goes_to_the_labels_background(monkeypatch):
    images, masks = _mixed_sizes()
    seen = []
    real = train_module.pixel_loss
    monkeypatch.setattr(train_module, "pixel_loss", lambda logits, m, weight: seen.append(weight) or real(logits, m, weight))
    train_model(PointWise(), images, masks, np.full((5, 2), -1), TrainConfig(steps=1, epochs=1, batch_size=2,
                background_weight=0.25), labels=LABELS)
    assert seen and seen[0].tolist() == [0.25, 1.0, 1.0]             # label 0 is the background here


def test_the_image_loss_pools_only_each_images_own_pixels(monkeypatch):
    images, _ = _mixed_sizes()
    seen = []
    real = train_module.image_loss
    monkeypatch.setattr(train_module, "image_loss",
                        lambda logits, answers, **kw: seen.append((answers, kw)) or real(logits, answers, **kw))
    answers = np.array([[1, 0], [0, -1], [-1, 1], [1, 1], [0, 0]])
    train_model(PointWise(), images, [None] * 5, answers, TrainConfig(steps=1, epochs=1, batch_size=5),
                labels=LABELS)
    (got, kw), = seen
    assert kw["classes"] == (1, 2)                                   # the queryable labels' channels
    valid = kw["valid"]
    order = [int(np.flatnonzero((answers == got[k].numpy()).all(axis=1))[0]) for k in range(5)]
    for k, i in enumerate(order):
        h, w = images[i].shape[1:]
        assert bool(valid[k, :h, :w].all()) and int(valid[k].sum()) == h * w


def test_a_bad_mask_anywhere_in_the_data_set_is_named_before_anything_runs(data, tmp_path, capsys):
    """A mask with a value outside classes.txt, in the test folder or deep in the pool, stops
    `alsel run` at once (exit 2, the file named), before the run folder exists."""
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    pool_masks = sorted((copy / "pool" / "masks").glob("*.png"))
    bad_pool = pool_masks[-1]
    Image.fromarray(np.full(np.asarray(Image.open(bad_pool)).shape, 77, dtype=np.uint8)).save(bad_pool)
    bad_test = sorted((copy / "test" / "masks").glob("*.png"))[0]
    mask = np.asarray(Image.open(bad_test)).copy()
    mask[0, 0] = 200
    Image.fromarray(mask).save(bad_test)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(_tiny(copy)))
    assert main(["run", str(config), "-o", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "2 problem(s)" in err and bad_pool.name in err and bad_test.name in err and "[77]" in err
    assert not (tmp_path / "run").exists()


def test_a_folder_run_with_the_terminal_oracle_names_the_files_and_stores_the_answers(data, tmp_path, monkeypatch,
                                                                                      capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\nn\n" * 3))
    config = load_config(overrides=_tiny(data, loop={"oracle": "terminal", "strategies": ["rr"]}))
    run_experiment(config, tmp_path / "run", plots=False)
    shown = capsys.readouterr().out
    store = AnswerStore.load(tmp_path / "run" / "stores" / "rr-seed0.json")
    assert store.n_answers == 6 and sorted(store.answers().values()) == [False] * 3 + [True] * 3
    for image, cls in store.answers():   # each question named the image's file and the class
        assert f"{store.image_names[image]}: is class {store.classes[cls]!r} present?" in shown
