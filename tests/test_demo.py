"""`patchdna demo` end to end on the bundled image (with 2 iterations per scale to stay fast)."""

from __future__ import annotations

from PIL import Image

from patchdna.assets import DEFAULT_IMAGE
from patchdna.cli import main


def test_bundled_image_is_usable():
    with Image.open(DEFAULT_IMAGE) as image:
        assert min(image.size) >= 200
    assert (DEFAULT_IMAGE.parent / "ATTRIBUTION.md").is_file()


def test_demo_writes_samples_of_several_sizes(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--iterations", "2", "--device", "cpu"]) == 0
    sizes = {Image.open(p).size for p in (out / "samples").glob("*.png")}
    trained = Image.open(out / "reconstruction.png").size
    assert (trained[0] * 2, trained[1]) in sizes and trained in sizes and len(sizes) == 4
    assert (out / "samples_sheet.png").is_file()
    assert (out / "model" / "config.json").is_file() and (out / "model" / "model.safetensors").is_file()
