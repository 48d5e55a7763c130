"""Model folders: `config.json` + `model.safetensors`, written atomically, read without unpickling.

Layout of a model folder (every family):
    config.json          {"family", "format_version", "config": {...}, "weights_sha256", ...family metadata}
    model.safetensors    weights and fixed tensors (noise maps), flat names like "generators.3.body.0.weight"
    training_state.*     optional, for `--resume`: optimizer moments and progress (same two-file format)

The SHA-256 of the weights file is stored in config.json so that a truncated or tampered file is refused
with a clear message instead of producing garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from patchdna.errors import ModelFolderError

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
STATE_NAME = "training_state"

__all__ = [
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_NAME",
    "LoadedFolder",
    "atomic_write_bytes",
    "atomic_write_json",
    "flatten_optimizer_state",
    "load_model_folder",
    "read_config",
    "load_training_state",
    "read_tensors",
    "save_model_folder",
    "save_training_state",
    "unflatten_optimizer_state",
    "write_tensors",
]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and `os.replace`, so a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, payload: Mapping[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=False) + "\n").encode())


def write_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> str:
    """Atomically save tensors as safetensors; returns the file's SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        save_file({name: t.detach().contiguous().cpu() for name, t in tensors.items()}, temp)
        digest = _sha256(Path(temp))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return digest


def read_tensors(path: Path, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Load a safetensors file (never a pickle); damage becomes `ModelFolderError`."""
    if not path.is_file():
        raise ModelFolderError(f"missing file: {path}")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelFolderError(f"{path} is truncated or corrupt ({error})") from error


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedFolder:
    """What `load_model_folder` returns: the parsed config.json and the tensors of model.safetensors."""

    config: dict[str, Any]
    metadata: dict[str, Any]
    tensors: dict[str, torch.Tensor]


def save_model_folder(
    folder: str | os.PathLike[str],
    *,
    family: str,
    config: Mapping[str, Any],
    tensors: Mapping[str, torch.Tensor],
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model folder. Weights first, then config.json carrying their hash, both atomically."""
    folder = Path(folder)
    digest = write_tensors(folder / WEIGHTS_NAME, tensors)
    payload: dict[str, Any] = {"family": family, "format_version": FORMAT_VERSION, "config": dict(config)}
    payload.update(metadata or {})
    payload["weights_sha256"] = digest
    atomic_write_json(folder / CONFIG_NAME, payload)
    return folder


def read_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a model folder's config.json with clear errors (used to dispatch on `family`)."""
    folder = Path(folder)
    if not folder.exists():
        raise ModelFolderError(f"model folder not found: {folder}")
    if not folder.is_dir():
        raise ModelFolderError(f"expected a model folder, got a file: {folder}")
    config_path = folder / CONFIG_NAME
    if not config_path.is_file():
        raise ModelFolderError(f"{folder} is not a patchdna model folder (no {CONFIG_NAME}); was training finished?")
    try:
        payload = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFolderError(f"{config_path} is not valid JSON ({error})") from error
    if not isinstance(payload, dict) or "family" not in payload or "config" not in payload:
        raise ModelFolderError(f"{config_path} is not a patchdna config (no 'family'/'config' keys)")
    return payload


def load_model_folder(
    folder: str | os.PathLike[str], *, family: str, device: torch.device | str = "cpu"
) -> LoadedFolder:
    """Read and verify a model folder of `family`; any problem raises `ModelFolderError`."""
    folder = Path(folder)
    payload = read_config(folder)
    if payload["family"] != family:
        raise ModelFolderError(f"{folder} holds a {payload['family']!r} model, not a {family!r} model")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFolderError(f"{folder} has format version {version}; this patchdna reads {FORMAT_VERSION}")
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise ModelFolderError(f"{folder} has no {WEIGHTS_NAME}")
    expected = payload.get("weights_sha256")
    if expected is not None and _sha256(weights) != expected:
        raise ModelFolderError(
            f"{weights} does not match the hash in {CONFIG_NAME}: the file is truncated or was modified"
        )
    tensors = read_tensors(weights, device)
    metadata = {k: v for k, v in payload.items() if k not in ("config",)}
    return LoadedFolder(config=payload["config"], metadata=metadata, tensors=tensors)


def flatten_optimizer_state(
    optimizer: torch.optim.Optimizer, prefix: str
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state_dict into tensors (for safetensors) and JSON (hyper-parameters, steps)."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer_state(
    optimizer: torch.optim.Optimizer, prefix: str, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]
) -> None:
    """Inverse of `flatten_optimizer_state`: load moments and hyper-parameters back into `optimizer`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if not name.startswith(prefix + "."):
            continue
        index, key = name[len(prefix) + 1 :].split(".", 1)
        state.setdefault(int(index), {})[key] = value
    for index, slots in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(slots)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_training_state(
    folder: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor], state: Mapping[str, Any]
) -> None:
    """Write resume state beside the model: tensors first, then the JSON that names their hash."""
    folder = Path(folder)
    digest = write_tensors(folder / f"{STATE_NAME}.safetensors", tensors)
    atomic_write_json(folder / f"{STATE_NAME}.json", {**state, "tensors_sha256": digest})


def load_training_state(folder: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """The resume state of a folder, or None when there is none (a fresh run)."""
    folder = Path(folder)
    meta_path = folder / f"{STATE_NAME}.json"
    if not meta_path.is_file():
        return None
    try:
        state = json.loads(meta_path.read_text())
    except json.JSONDecodeError as error:
        raise ModelFolderError(f"{meta_path} is corrupt ({error}); delete it to start over") from error
    path = folder / f"{STATE_NAME}.safetensors"
    if not path.is_file() or _sha256(path) != state.get("tensors_sha256"):
        raise ModelFolderError(f"{path} is missing or does not match {meta_path.name}; delete both to start over")
    return read_tensors(path), state
