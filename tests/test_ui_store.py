"""The UI's models root: safe names, no path traversal, zip download and validated zip upload."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import pytest
import torch

from patchdna import singan
from patchdna.errors import ModelFolderError
from patchdna.ui.store import ModelStore, UploadError, check_name, zip_bytes


def _untrained_model_folder(folder):
    """A 2-scale SinGAN model folder with initial weights (no training needed to test file handling)."""
    torch.manual_seed(0)
    config = singan.preset("diverse", min_size=12, max_size=24, num_scales=2, crop_size=None, sample_pool=0)
    sizes = singan.pyramid_sizes(20, 24, config)
    model = singan.SinGAN(config, sizes, torch.rand(1, 3, 20, 24) * 2 - 1)
    for _ in sizes:
        generator, discriminator = model.new_stage()
        model.generators.append(generator)
        model.discriminators.append(discriminator)
    model.noise_amplitudes = torch.ones(len(sizes))
    singan.save(model, folder)
    return folder


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "models"
    _untrained_model_folder(root / "texture")
    return ModelStore(root)


@pytest.mark.parametrize("name", ["../evil", "..", "a/b", "/etc", "a\\b", "", " ", ".hidden", "x" * 65, "a..b"])
def test_bad_names_are_refused(store, name):
    with pytest.raises(UploadError):
        check_name(name)
    with pytest.raises(UploadError):
        store.path(name)


def test_list_and_load(store):
    infos = store.models()
    assert [(i.name, i.family, i.complete) for i in infos] == [("texture", "singan", True)]
    assert "2/2 scales" in infos[0].detail
    family, model = store.load("texture")
    assert family == "singan" and model.num_trained == 2
    with pytest.raises(ModelFolderError, match="no model named"):
        store.load("missing")


def test_symlink_out_of_the_root_is_not_listed(store, tmp_path):
    outside = _untrained_model_folder(tmp_path / "outside")
    (store.root / "link").symlink_to(outside)
    assert store.names() == ["texture"]


def test_zip_round_trip(store, tmp_path):
    archive = store.export_zip("texture", tmp_path / "downloads")
    with zipfile.ZipFile(archive) as opened:
        assert sorted(opened.namelist()) == ["texture/config.json", "texture/model.safetensors"]
    renamed = tmp_path / "copy.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(renamed, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename.replace("texture/", "copy/"), source.read(info))
    assert store.import_zip(renamed) == "copy"
    assert sorted(store.names()) == ["copy", "texture"]
    with pytest.raises(UploadError, match="already exists"):
        store.import_zip(archive)


def _model_files(store):
    folder = store.root / "texture"
    return {name: (folder / name).read_bytes() for name in ("config.json", "model.safetensors")}


def test_pickles_and_other_files_are_refused(store, tmp_path):
    files = _model_files(store)
    files["model.pt"] = pickle.dumps({"weights": 1})
    path = tmp_path / "pickled.zip"
    path.write_bytes(zip_bytes(files))
    with pytest.raises(UploadError, match="no pickles"):
        store.import_zip(path)
    assert store.names() == ["texture"]


@pytest.mark.parametrize("member", ["../evil/config.json", "/abs/config.json", "a/../../config.json"])
def test_zip_slip_is_refused(store, tmp_path, member):
    path = tmp_path / "slip.zip"
    path.write_bytes(zip_bytes({member: b"{}"}))
    with pytest.raises(UploadError, match="unsafe path"):
        store.import_zip(path)
    assert not (tmp_path / "evil").exists()


def test_corrupt_and_foreign_uploads_have_clear_errors(store, tmp_path):
    files = _model_files(store)
    cases = {
        "not_a_zip": b"this is not a zip",
        "empty_names": zip_bytes({"readme.txt": b"hello"}),
        "no_weights": zip_bytes({"config.json": files["config.json"]}),
        "bad_json": zip_bytes({"config.json": b"{oops", "model.safetensors": files["model.safetensors"]}),
        "foreign": zip_bytes(
            {"config.json": json.dumps({"family": "stylegan", "config": {}}).encode(), "model.safetensors": b"x"}
        ),
        "truncated": zip_bytes(
            {"config.json": files["config.json"], "model.safetensors": files["model.safetensors"][:100]}
        ),
    }
    expected = {
        "not_a_zip": "not a zip",
        "empty_names": "never has",
        "no_weights": "needs config.json and model.safetensors",
        "bad_json": "not valid JSON",
        "foreign": "'stylegan' model",
        "truncated": "corrupt or incomplete",
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.zip"
        path.write_bytes(data)
        with pytest.raises(UploadError, match=expected[name]) as caught:
            store.import_zip(path)
        assert str(tmp_path) not in str(caught.value) or name == "not_a_zip"
    assert store.names() == ["texture"]
    assert [p.name for p in store.root.iterdir()] == ["texture"]  # no staging folder left behind


def test_zip_bytes_helper_is_a_zip():
    assert zipfile.is_zipfile(io.BytesIO(zip_bytes({"a": b"b"})))
