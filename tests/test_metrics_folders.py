import pytest
from metrics_fixtures import textured

from patchdna.io import save_image
from patchdna.metrics.folders import FolderLayoutError, pair_folders


def make(folder, *names, size=40):
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        save_image(textured(size, seed=index), folder / name)
    return folder


def test_pairs_single_and_numbered_samples(tmp_path):
    real = make(tmp_path / "Real", "0.jpg", "1.png", "10.jpg", "2.jpg")
    single = make(tmp_path / "A", "0.png", "1.png", "10.png", "2.png")
    several = make(tmp_path / "B", "0_1.jpg", "0_0.jpg", "0_10.jpg", "0_2.jpg", "1_0.jpg", "10_0.jpg", "2_0.jpg")
    groups = pair_folders(real, single)
    assert [group.name for group in groups] == ["0", "1", "2", "10"]  # numeric order
    assert groups[1].real.name == "1.png" and groups[1].samples[0].name == "1.png"
    groups = pair_folders(real, several)
    assert [path.name for path in groups[0].samples] == ["0_0.jpg", "0_1.jpg", "0_2.jpg", "0_10.jpg"]


def test_exact_stem_wins_over_sample_suffix(tmp_path):
    real = make(tmp_path / "Real", "3_1.png", "3.png")
    method = make(tmp_path / "M", "3_1.png", "3_0.png")
    groups = {group.name: group for group in pair_folders(real, method)}
    assert [path.name for path in groups["3_1"].samples] == ["3_1.png"]
    assert [path.name for path in groups["3"].samples] == ["3_0.png"]


def test_missing_samples_are_named(tmp_path):
    real = make(tmp_path / "Real", "0.jpg", "1.jpg", "2.jpg")
    method = make(tmp_path / "M", "0.jpg")
    with pytest.raises(FolderLayoutError, match=r"2 real image\(s\) have no sample .*1\.jpg, 2\.jpg"):
        pair_folders(real, method)


def test_mismatched_names_are_named(tmp_path):
    real = make(tmp_path / "Real", "0.jpg")
    method = make(tmp_path / "M", "0.jpg", "img_a.jpg", "7_0.jpg")
    with pytest.raises(FolderLayoutError, match=r"2 file\(s\) in .* match no image .*7_0\.jpg, img_a\.jpg"):
        pair_folders(real, method)


def test_duplicate_stems_empty_and_missing_folders(tmp_path):
    real = make(tmp_path / "Real", "0.jpg", "0.png")
    with pytest.raises(FolderLayoutError, match="same name"):
        pair_folders(real, real)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(FolderLayoutError, match="no images"):
        pair_folders(tmp_path / "empty", tmp_path / "empty")
    with pytest.raises(FolderLayoutError, match="not a folder"):
        pair_folders(tmp_path / "nowhere", tmp_path / "empty")
