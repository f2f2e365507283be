"""Image folders: layout, sizes, the ignore label, label configuration, errors, splits, round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

Image = pytest.importorskip("PIL.Image")

from alsel.datasets.base import IGNORE, ImageSet  # noqa: E402
from alsel.datasets.folder import FolderError, FolderSource, ImageFolder  # noqa: E402

CLASSES = ("background", "cat", "dog")


def _write(root: Path, items: dict, classes=CLASSES, image_mode="RGB", seed=0) -> dict:
    """Write images (random pixels) and masks; items: stem -> (height, width, mask array or None).

    Returns stem -> (pixels as written, mask as written).
    """
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    if classes is not None:
        (root / "classes.txt").write_text("\n".join(classes) + "\n")
    written = {}
    for stem, (height, width, mask) in items.items():
        channels = 3 if image_mode == "RGB" else 1
        pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
        path = root / "images" / f"{stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels if channels == 3 else pixels[..., 0]).save(path)
        if mask is not None:
            (root / "masks" / f"{stem}.png").parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.asarray(mask, dtype=np.uint8)).save(root / "masks" / f"{stem}.png")
        written[stem] = (pixels, mask)
    return written


def _mask(height, width, seed=0, values=(0, 1, 2)):
    return np.random.default_rng(seed).choice(np.array(values, dtype=np.uint8), size=(height, width))


def test_an_image_folder_reads_images_of_different_sizes_and_optional_masks(tmp_path):
    m_a = _mask(5, 7, 1, values=(0, 1, 2, 255))
    written = _write(tmp_path, {"a": (5, 7, m_a), "b": (9, 4, None), "sub/c": (6, 6, _mask(6, 6, 2))})
    folder = ImageFolder(tmp_path)
    assert isinstance(folder, ImageSet) and len(folder) == 3
    assert [folder.name(i) for i in range(3)] == ["a.png", "b.png", "sub/c.png"]
    assert folder.root == tmp_path / "images" and folder.channels == 3
    assert [folder.has_mask(i) for i in range(3)] == [True, False, True] and folder.n_masks == 2
    for i, stem in enumerate(("a", "b", "sub/c")):
        image = folder.image(i)
        assert image.dtype == np.float32
        np.testing.assert_allclose(image, written[stem][0].transpose(2, 0, 1) / 255.0, rtol=0, atol=1e-7)
    assert folder.size(1) == (9, 4)
    mask = folder.mask(0)
    assert mask.dtype == np.int64
    expected = m_a.astype(np.int64)
    expected[m_a == 255] = IGNORE
    assert np.array_equal(mask, expected) and (mask == IGNORE).any()
    assert folder.mask(1) is None
    assert folder.check() == []


def test_the_ignore_label_is_configurable(tmp_path):
    m = np.array([[0, 1, 200], [2, 200, 1]], dtype=np.uint8)
    _write(tmp_path, {"a": (2, 3, m)})
    folder = ImageFolder(tmp_path, ignore_label=200)
    assert np.array_equal(folder.mask(0), [[0, 1, IGNORE], [2, IGNORE, 1]])
    with pytest.raises(FolderError, match=r"a\.png has values \[200\]"):
        ImageFolder(tmp_path).mask(0)  # 200 is neither a label nor the default ignore label 255
    with pytest.raises(FolderError, match="ignore_label 1 is the label 'cat'"):
        ImageFolder(tmp_path, ignore_label=1)
    m255 = np.array([[0, 255]], dtype=np.uint8)
    _write(tmp_path / "n", {"a": (1, 2, m255)})
    with pytest.raises(FolderError, match=r"values \[255\]"):
        ImageFolder(tmp_path / "n", ignore_label=None).mask(0)


def test_a_palette_mask_whose_indices_are_labels_is_read_as_labels(tmp_path):
    _write(tmp_path, {"a": (3, 4, None)})
    values = np.array([[0, 1, 2, 255]] * 3, dtype=np.uint8)
    palette = Image.frombytes("P", (4, 3), values.tobytes())  # the indices are the labels
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [7] * (253 * 3))  # colours unlike the indices
    palette.save(tmp_path / "masks" / "a.png")
    assert Image.open(tmp_path / "masks" / "a.png").mode == "P"
    expected = values.astype(np.int64)
    expected[values == 255] = IGNORE
    assert np.array_equal(ImageFolder(tmp_path).mask(0), expected)


def test_labels_background_and_queried_are_configuration(tmp_path):
    _write(tmp_path, {"a": (2, 2, None)}, classes=("road", "car", "person", "sky"))
    with pytest.raises(FolderError, match="background 'background' is not a label.*background=None"):
        ImageFolder(tmp_path)
    labels = ImageFolder(tmp_path, background=None).labels
    assert labels.names == ("road", "car", "person", "sky") and labels.background is None
    assert labels.queryable == (0, 1, 2, 3)
    labels = ImageFolder(tmp_path, background="sky").labels
    assert labels.background == 3 and labels.queryable == (0, 1, 2)
    labels = ImageFolder(tmp_path, background=0, queried=["person", "car"]).labels
    assert labels.background == 0 and labels.queryable == (2, 1) and labels.query_names == ("person", "car")
    with pytest.raises(FolderError, match="queried label 'bus' is not a label"):
        ImageFolder(tmp_path, background=None, queried=["bus"])
    with pytest.raises(FolderError, match="background"):
        ImageFolder(tmp_path, background="sky", queried=["sky"])
    with pytest.raises(FolderError, match=r"write \['car'\]"):
        ImageFolder(tmp_path, background=None, queried="car")


def test_channels_and_normalisation(tmp_path):
    written = _write(tmp_path, {"a": (3, 4, None), "b": (2, 2, None)}, image_mode="L")
    grey = written["a"][0][..., 0].astype(np.float32) / 255
    rgb = ImageFolder(tmp_path, background=0).image(0)
    assert rgb.shape == (3, 3, 4) and np.allclose(rgb, grey[None].repeat(3, axis=0))
    gray = ImageFolder(tmp_path, background=0, channels="gray")
    assert gray.channels == 1 and np.allclose(gray.image(0), grey[None])
    auto = ImageFolder(tmp_path, background=0, channels="auto")
    assert auto.channels == 1
    normed = ImageFolder(tmp_path, background=0, mean=(0.5, 0.25, 0.0), std=(0.5, 2.0, 1.0)).image(0)
    assert np.allclose(normed[0], (grey - 0.5) / 0.5) and np.allclose(normed[1], (grey - 0.25) / 2.0)
    assert np.allclose(normed[2], grey)
    with pytest.raises(FolderError, match="mean must be one finite number or 1"):
        ImageFolder(tmp_path, background=0, channels="gray", mean=(0.1, 0.2, 0.3))
    with pytest.raises(FolderError, match="std must be > 0"):
        ImageFolder(tmp_path, background=0, std=0.0)
    with pytest.raises(FolderError, match="channels must be one of"):
        ImageFolder(tmp_path, background=0, channels="bgr")


def test_auto_channels_refuse_a_colour_image_after_a_grey_first_one(tmp_path):
    _write(tmp_path, {"a": (3, 4, None)}, image_mode="L")
    _write(tmp_path, {"b": (3, 4, None)}, image_mode="RGB")
    folder = ImageFolder(tmp_path, background=0, channels="auto")
    assert folder.image(0).shape == (1, 3, 4)
    with pytest.raises(FolderError, match=r"b\.png is a colour image.*channels='rgb'"):
        folder.image(1)


def test_sixteen_bit_images_are_scaled_by_65535(tmp_path):
    _write(tmp_path, {"a": (2, 2, None)})
    values = np.array([[0, 1000], [40000, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "images" / "a.png")
    image = ImageFolder(tmp_path, channels="gray").image(0)
    np.testing.assert_allclose(image[0], values / 65535.0, rtol=1e-6)


# ------------------------------------------------------------------------------ errors
def test_a_mask_whose_size_differs_from_its_image_is_refused_naming_both(tmp_path):
    _write(tmp_path, {"a": (4, 5, _mask(4, 5)), "b": (4, 5, None)})
    Image.fromarray(_mask(5, 4)).save(tmp_path / "masks" / "b.png")
    folder = ImageFolder(tmp_path)
    folder.mask(0)
    with pytest.raises(FolderError, match=r"masks/b\.png is 4x5 .* its image .*images/b\.png is 5x4"):
        folder.mask(1)


def test_a_label_outside_the_classes_is_refused_naming_the_file(tmp_path):
    _write(tmp_path, {"a": (3, 3, np.array([[0, 1, 2], [3, 2, 1], [7, 0, 0]]))})
    with pytest.raises(FolderError, match=r"masks/a\.png has values \[3, 7\] \(2 pixels\)"):
        ImageFolder(tmp_path).mask(0)


def test_a_colour_mask_is_refused_with_the_reason(tmp_path):
    _write(tmp_path, {"a": (3, 3, None)})
    Image.fromarray(np.zeros((3, 3, 3), dtype=np.uint8)).save(tmp_path / "masks" / "a.png")
    with pytest.raises(FolderError, match=r"a\.png is a RGB image; masks must be single-channel label maps"):
        ImageFolder(tmp_path).mask(0)


@pytest.mark.parametrize("break_it, message", [
    (lambda r: (r / "classes.txt").unlink(), r"classes\.txt is missing"),
    (lambda r: (r / "classes.txt").write_text("background\n\ncat\n"), r"classes\.txt: line 2 is empty"),
    (lambda r: (r / "classes.txt").write_text("background\ncat\ncat\n"), r"classes\.txt: label names must differ"),
    (lambda r: (r / "classes.txt").write_bytes(b"\xff\xfe\x00bad"), r"classes\.txt cannot be read as UTF-8"),
    (lambda r: [p.unlink() for p in (r / "images").iterdir()] and (r / "images").rmdir(), r"images is missing"),
    (lambda r: Image.fromarray(_mask(2, 2)).save(r / "masks" / "ghost.png"),
     r"masks/ghost\.png is a mask without an image"),
    (lambda r: (r / "images" / "notes.txt").write_text("x"), r"images/notes\.txt is not an image file"),
    (lambda r: Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(r / "images" / "a.jpg"),
     r"images/a\.(png|jpg) and .*images/a\.(png|jpg) have the same stem"),
    (lambda r: Image.fromarray(_mask(2, 2)).save(r / "masks" / "a.jpg"), r"masks/a\.jpg: masks must be PNG"),
])
def test_a_broken_layout_is_refused_when_the_folder_is_made_naming_the_file(tmp_path, break_it, message):
    _write(tmp_path, {"a": (2, 2, _mask(2, 2))})
    break_it(tmp_path)
    with pytest.raises(FolderError, match=message):
        ImageFolder(tmp_path)


def test_unreadable_files_are_refused_naming_them(tmp_path):
    _write(tmp_path, {"a": (2, 2, _mask(2, 2)), "b": (2, 2, _mask(2, 2))})
    (tmp_path / "images" / "a.png").write_bytes(b"not a png")
    (tmp_path / "masks" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    folder = ImageFolder(tmp_path)
    with pytest.raises(FolderError, match=r"images/a\.png: cannot read this image"):
        folder.image(0)
    with pytest.raises(FolderError, match=r"masks/b\.png: cannot read this mask"):
        folder.mask(1)


def test_require_masks_names_an_image_without_one(tmp_path):
    _write(tmp_path, {"a": (2, 2, _mask(2, 2)), "b": (2, 2, None)})
    with pytest.raises(FolderError, match=r"1 image\(s\) have no mask.*images/b\.png.*masks/b\.png"):
        ImageFolder(tmp_path, require_masks=True)


def test_check_reports_every_problem_naming_each_file(tmp_path):
    _write(tmp_path, {"a": (3, 3, _mask(3, 3)), "b": (3, 3, np.full((3, 3), 9)), "c": (3, 3, None),
                      "d": (3, 3, _mask(3, 3))})
    Image.fromarray(_mask(2, 3)).save(tmp_path / "masks" / "c.png")
    (tmp_path / "images" / "d.png").write_bytes(b"broken")
    problems = ImageFolder(tmp_path).check()
    assert len(problems) == 3
    assert "masks/b.png has values [9]" in problems[0]
    assert "masks/c.png is 3x2" in problems[1]
    assert "images/d.png: cannot read" in problems[2]


# ------------------------------------------------------------------------------ splits
def _pool_folder(root: Path, n_masked=12, n_plain=6):
    items = {f"m{k:02d}": (4 + k % 3, 5, _mask(4 + k % 3, 5, k)) for k in range(n_masked)}
    items.update({f"p{k:02d}": (4, 4 + k % 2, None) for k in range(n_plain)})
    _write(root, items)


def _ids(image_set):
    return [image_set.name(i) for i in range(len(image_set))]


def test_a_folder_source_draws_disjoint_reproducible_splits(tmp_path):
    _pool_folder(tmp_path)
    source = FolderSource(tmp_path, labeled=3, test=4)
    split = source.load(7)
    assert split.n_labeled == 3 and len(split.pool) == 18 - 4 and len(split.test) == 4
    pool, test = _ids(split.pool), _ids(split.test)
    labeled, unlabeled = pool[:3], pool[3:]
    assert len(set(pool)) == len(pool) and not set(pool) & set(test)
    assert set(pool) | set(test) == {f"m{k:02d}.png" for k in range(12)} | {f"p{k:02d}.png" for k in range(6)}
    assert all(n.startswith("m") for n in labeled + test), "L and the test set need masks"
    assert all(split.pool.mask(i) is not None for i in range(3))
    assert all(split.test.mask(i) is not None for i in range(4))
    assert {f"p{k:02d}.png" for k in range(6)} <= set(unlabeled)
    again = source.load(7)
    assert _ids(again.pool) == pool and _ids(again.test) == test
    others = [source.load(s) for s in range(8)]
    assert len({tuple(_ids(s.pool)[:3]) for s in others}) > 1 and len({tuple(_ids(s.test)) for s in others}) > 1
    assert split.pool.root == tmp_path / "images" and split.pool.labels == source.labels


def test_unlabeled_takes_that_many_of_the_rest(tmp_path):
    _pool_folder(tmp_path)
    split = FolderSource(tmp_path, labeled=2, unlabeled=5, test=3).load(0)
    assert len(split.pool) == 7 and split.n_labeled == 2
    assert not set(_ids(split.pool)) & set(_ids(split.test))


def test_a_test_folder_is_the_whole_test_set(tmp_path):
    _pool_folder(tmp_path / "train")
    _write(tmp_path / "val", {"v0": (3, 3, _mask(3, 3)), "v1": (5, 2, _mask(5, 2))})
    source = FolderSource(tmp_path / "train", test_root=tmp_path / "val", labeled=12)
    split = source.load(1)
    assert _ids(split.test) == ["v0.png", "v1.png"] and len(split.pool) == 18
    assert all(n.startswith("m") for n in _ids(split.pool)[:12])
    _write(tmp_path / "val2", {"v0": (3, 3, _mask(3, 3)), "v1": (3, 3, None)})
    with pytest.raises(FolderError, match=r"have no mask.*v1\.png"):
        FolderSource(tmp_path / "train", test_root=tmp_path / "val2", labeled=1)
    _write(tmp_path / "val3", {"v0": (3, 3, _mask(3, 3))}, classes=("background", "dog", "cat"))
    with pytest.raises(FolderError, match="need the same labels"):
        FolderSource(tmp_path / "train", test_root=tmp_path / "val3", labeled=1)


@pytest.mark.parametrize("kwargs, message", [
    ({"labeled": 10, "test": 3}, "has 12 images with masks; labeled = 10 and test = 3 need more"),
    ({"labeled": 2, "test": 3, "unlabeled": 14}, "unlabeled = 14 but .* has 13 images left"),
    ({"labeled": 2}, "a test set is needed"),
    ({"labeled": 2, "test": 0}, "test must be an integer >= 1"),
    ({"labeled": -1, "test": 2}, "labeled must be an integer >= 0"),
    ({"labeled": 2, "test": 2, "test_root": "."}, "not both"),
])
def test_a_folder_source_refuses_counts_it_cannot_draw(tmp_path, kwargs, message):
    _pool_folder(tmp_path)
    with pytest.raises(FolderError, match=message):
        FolderSource(tmp_path, **kwargs)


# ------------------------------------------------------------------------------ round trip
def test_write_folder_reads_back_as_the_scenes(tmp_path):
    pytest.importorskip("sklearn")
    from alsel.datasets.digits import DIGIT_LABELS, make_scenes, write_folder

    sizes = [(20, 28), (28, 20), 24]
    written = write_folder(tmp_path, 7, sizes=sizes, scale=(6, 10), seed=3, without_masks=[2])
    folder = ImageFolder(tmp_path, channels="auto")
    assert folder.labels == DIGIT_LABELS and len(folder) == 7 and folder.channels == 1
    assert [folder.size(k) for k in range(7)] == [(20, 28), (28, 20), (24, 24)] * 2 + [(20, 28)]
    assert folder.check() == []
    for k in range(7):
        assert folder.name(k) == f"{k:05d}.png" == written.name(k) + ".png"
        np.testing.assert_array_equal(folder.image(k), written.image(k))
        if k == 2:
            assert folder.mask(k) is None and written.mask(k) is None
        else:
            np.testing.assert_array_equal(folder.mask(k), written.mask(k))
    # the scenes themselves: masks exactly, images to 8-bit rounding
    scenes = make_scenes(4, size=(20, 20), scale=(6, 10), seed=9)
    write_folder(tmp_path / "s", scenes, mode="RGB")
    again = ImageFolder(tmp_path / "s")
    for k in range(4):
        assert np.array_equal(again.mask(k), scenes.masks[k])
        image = again.image(k)
        assert image.shape == (3, 20, 20)
        assert np.abs(image - scenes.images[k]).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(FileExistsError, match="images exists"):
        write_folder(tmp_path / "s", 1)


# ------------------------------------------------------------------------------ docs/data.md
def _fake_voc(root: Path) -> None:
    voc = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    for split, stems in (("train", ["2007_000032", "2007_000039"]), ("val", ["2007_000033"])):
        (voc / "ImageSets/Segmentation" / f"{split}.txt").write_text("\n".join(stems) + "\n")
        for k, stem in enumerate(stems):
            Image.fromarray(np.full((6 + k, 8, 3), 90, np.uint8)).save(voc / "JPEGImages" / f"{stem}.jpg")
            labels = np.zeros((6 + k, 8), np.uint8)
            labels[1:3, 2:5], labels[3, :] = 15, 255  # a person, its border void
            mask = Image.frombytes("P", (8, 6 + k), labels.tobytes())
            mask.putpalette([0, 0, 0, 128, 0, 0] * 128)
            mask.save(voc / "SegmentationClass" / f"{stem}.png")


def _fake_cityscapes(root: Path) -> None:
    for split, cities in (("train", ["aachen", "bremen"]), ("val", ["lindau"])):
        for city in cities:
            for kind in ("leftImg8bit", "gtFine"):
                (root / "cityscapes" / kind / split / city).mkdir(parents=True)
            stem = f"{city}_000000_000019"
            Image.fromarray(np.zeros((4, 8, 3), np.uint8)).save(
                root / "cityscapes" / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
            Image.fromarray(np.array([[0, 18, 255, 7] * 2] * 4, np.uint8)).save(
                root / "cityscapes" / "gtFine" / split / city / f"{stem}_gtFine_labelTrainIds.png")
            Image.fromarray(np.zeros((4, 8), np.uint8)).save(  # the other gtFine files are left alone
                root / "cityscapes" / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png")


def test_the_python_in_docs_data_md_runs_as_written(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    doc = (Path(__file__).resolve().parent.parent / "docs" / "data.md").read_text()
    import re

    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert len(blocks) == 3
    _fake_voc(tmp_path)
    _fake_cityscapes(tmp_path)
    monkeypatch.chdir(tmp_path)
    for k, block in enumerate(blocks):
        exec(compile(block, f"docs/data.md block {k}", "exec"), {})  # noqa: S102
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "45 10 15"
    voc = FolderSource("voc-train", test_root="voc-val", labeled=2).load(0)
    assert voc.pool.labels.names[15] == "person" and voc.pool.labels.background == 0
    mask = voc.pool.mask(0)
    assert set(np.unique(mask)) == {IGNORE, 0, 15} and voc.pool.image(0).shape[0] == 3
    cs = FolderSource("cityscapes-train", test_root="cityscapes-val", labeled=2, background=None)
    split = cs.load(0)
    assert [split.test.name(0)] == ["lindau/lindau_000000_000019.png"]
    assert sorted(split.pool.name(i) for i in range(2)) == [
        "aachen/aachen_000000_000019.png", "bremen/bremen_000000_000019.png"]
    assert set(np.unique(split.pool.mask(0))) == {IGNORE, 0, 7, 18} and cs.labels.n_labels == 19
