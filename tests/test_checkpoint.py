"""patchdna.checkpoint: model folders are verified, never unpickled, and written atomically."""

from __future__ import annotations

import json

import pytest
import torch

from patchdna.checkpoint import (
    flatten_optimizer_state,
    load_model_folder,
    load_training_state,
    save_model_folder,
    save_training_state,
    unflatten_optimizer_state,
)
from patchdna.errors import ModelFolderError


def _folder(tmp_path):
    tensors = {"w": torch.arange(6.0).reshape(2, 3), "noise": torch.randn(1, 1, 4, 4)}
    return save_model_folder(
        tmp_path / "m", family="toy", config={"a": 1}, tensors=tensors, metadata={"sizes": [[4, 4]]}
    )


def test_roundtrip(tmp_path):
    folder = _folder(tmp_path)
    loaded = load_model_folder(folder, family="toy")
    assert loaded.config == {"a": 1} and loaded.metadata["sizes"] == [[4, 4]]
    assert torch.equal(loaded.tensors["w"], torch.arange(6.0).reshape(2, 3))


def test_missing_foreign_and_tampered(tmp_path):
    with pytest.raises(ModelFolderError, match="not found"):
        load_model_folder(tmp_path / "nothing", family="toy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFolderError, match="not a patchdna model folder"):
        load_model_folder(tmp_path / "empty", family="toy")
    folder = _folder(tmp_path)
    with pytest.raises(ModelFolderError, match="'toy' model, not a 'singan'"):
        load_model_folder(folder, family="singan")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFolderError, match="truncated or was modified"):
        load_model_folder(folder, family="toy")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelFolderError, match="not valid JSON"):
        load_model_folder(folder, family="toy")


def test_pickle_is_never_loaded(tmp_path):
    folder = _folder(tmp_path)
    torch.save({"w": torch.zeros(1)}, folder / "model.safetensors")  # a pickle under the expected name
    payload = json.loads((folder / "config.json").read_text())
    payload.pop("weights_sha256")  # even without the hash check the pickle must be refused
    (folder / "config.json").write_text(json.dumps(payload))
    with pytest.raises(ModelFolderError, match="truncated or corrupt"):
        load_model_folder(folder, family="toy")


def test_optimizer_state_roundtrip(tmp_path):
    layer = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
    layer(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    tensors, meta = flatten_optimizer_state(optimizer, "adam")
    save_training_state(tmp_path, tensors, {"adam": meta, "step": 1})
    loaded_tensors, loaded_meta = load_training_state(tmp_path)
    fresh = torch.optim.Adam(torch.nn.Linear(3, 2).parameters(), lr=5.0)
    unflatten_optimizer_state(fresh, "adam", loaded_tensors, loaded_meta["adam"])
    assert fresh.param_groups[0]["lr"] == 1e-3
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    assert load_training_state(tmp_path / "none") is None
