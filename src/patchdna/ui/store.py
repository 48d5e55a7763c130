"""The models root of the web UI: list, name, zip and unzip model folders without leaving the root.

Every path the UI touches is derived from a model *name* checked by `check_name` (letters, digits, `-`, `_`,
`.`; no separators, no `..`) and resolved inside the root, so a crafted request cannot read or write anywhere
else. Uploaded zips are validated before anything is written: only the files a model folder holds
(`config.json`, `*.safetensors`, `training_state.json`, `previews/*.png`) are accepted, never a pickle, and
the unpacked folder must load with its family's loader (hash-checked safetensors) before it is listed.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from patchdna.checkpoint import CONFIG_NAME, WEIGHTS_NAME, read_config
from patchdna.errors import ModelFolderError, PatchDNAError

__all__ = ["ModelInfo", "ModelStore", "UploadError", "check_name"]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Files a model folder may hold; anything else in an uploaded zip (a .pt/.pkl pickle, a script) is refused.
ALLOWED_FILES = re.compile(
    r"^(config\.json|model\.safetensors|training_state\.(json|safetensors)|previews/[\w.-]+\.png)$"
)
MAX_UNPACKED_BYTES = 2_000_000_000  # a zip that would unpack to more than this is refused (zip bomb)


class UploadError(PatchDNAError):
    """A file uploaded through the UI that cannot be used (too large, not an image, not a model zip)."""


def check_name(name: str) -> str:
    """Return `name` stripped if it is a safe model folder name, else raise `UploadError`."""
    name = (name or "").strip()
    if not NAME_PATTERN.match(name) or ".." in name:
        raise UploadError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '-', '_' or '.', without '..' or '/'"
        )
    return name


@dataclass(frozen=True)
class ModelInfo:
    name: str
    family: str
    complete: bool
    detail: str  # one line for the list: scales, size


# family -> loader(folder, device) that raises ModelFolderError for a folder it cannot use
Loader = Callable[[Path, Any], Any]


def _default_loaders() -> dict[str, Loader]:
    """The loaders of the families installed in this build (a family package may be absent)."""
    loaders: dict[str, Loader] = {}
    for family in ("singan", "ingan", "instagan"):
        try:
            module = __import__(f"patchdna.{family}", fromlist=["load"])
            loaders[family] = module.load
        except (ImportError, AttributeError):
            continue
    return loaders


class ModelStore:
    """Model folders directly under `root` (one level, named by `check_name`)."""

    def __init__(self, root: str | Path, loaders: dict[str, Loader] | None = None) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.loaders = loaders if loaders is not None else _default_loaders()

    def path(self, name: str) -> Path:
        """The folder of model `name`, guaranteed to lie directly inside the root."""
        folder = (self.root / check_name(name)).resolve()
        if folder.parent != self.root:
            raise UploadError(f"model name {name!r} points outside the models folder")
        return folder

    def existing(self, name: str) -> Path:
        folder = self.path(name)
        if not (folder / CONFIG_NAME).is_file():
            raise ModelFolderError(f"no model named {name!r} in the models folder; pick one from the list")
        return folder

    def models(self) -> list[ModelInfo]:
        models = []
        for folder in sorted(self.root.iterdir()):
            if folder.is_symlink() or not folder.is_dir() or not NAME_PATTERN.match(folder.name):
                continue
            try:
                payload = read_config(folder)
            except ModelFolderError:
                continue
            family = str(payload.get("family"))
            complete = bool(payload.get("complete", True))
            sizes = payload.get("sizes")
            detail = family
            if isinstance(sizes, list) and sizes:
                trained = int(payload.get("trained_scales", len(sizes)))
                height, width = sizes[max(0, trained - 1)]
                detail += f", {trained}/{len(sizes)} scales, {width}x{height}"
            elif isinstance(payload.get("image_size"), list) and len(payload["image_size"]) == 2:
                height, width = payload["image_size"]
                detail += f", {width}x{height}"
            models.append(ModelInfo(folder.name, family, complete, detail))
        return models

    def names(self, family: str | None = None) -> list[str]:
        return [m.name for m in self.models() if family is None or m.family == family]

    def load(self, name: str, device: Any = "cpu") -> tuple[str, Any]:
        """(family, model) of model `name`, on `device`."""
        folder = self.existing(name)
        family = str(read_config(folder)["family"])
        if family not in self.loaders:
            raise ModelFolderError(f"{name!r} is a {family!r} model, which this build of patchdna cannot load")
        return family, self.loaders[family](folder, device)

    # -- zip export / import -------------------------------------------------------------------------------
    def export_zip(self, name: str, dest_dir: Path) -> Path:
        """Zip model `name` (its folder's allowed files only) into dest_dir/<name>.zip."""
        folder = self.existing(name)
        dest_dir.mkdir(parents=True, exist_ok=True)
        target = dest_dir / f"{folder.name}.zip"
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(folder.rglob("*")):
                relative = file.relative_to(folder).as_posix()
                if file.is_file() and not file.is_symlink() and ALLOWED_FILES.match(relative):
                    archive.write(file, f"{folder.name}/{relative}")
        return target

    def import_zip(self, zip_path: str | Path, name: str | None = None) -> str:
        """Validate and unpack an uploaded model zip; returns the new model's name. Never overwrites."""
        members = _read_zip(Path(zip_path))
        prefix = _common_prefix(members)
        files = {path[len(prefix) :]: data for path, data in members.items()}
        refused = sorted(path for path in files if not ALLOWED_FILES.match(path))
        if refused:
            raise UploadError(
                f"the zip holds files a model folder never has ({', '.join(refused[:3])}); patchdna accepts only "
                "config.json, model.safetensors, training_state.* and previews/*.png (no pickles)"
            )
        if CONFIG_NAME not in files or WEIGHTS_NAME not in files:
            raise UploadError(f"the zip is not a patchdna model folder: it needs {CONFIG_NAME} and {WEIGHTS_NAME}")
        try:
            payload = json.loads(files[CONFIG_NAME])
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UploadError(f"config.json in the zip is not valid JSON ({error})") from error
        family = payload.get("family") if isinstance(payload, dict) else None
        if family not in self.loaders:
            known = ", ".join(sorted(self.loaders)) or "none"
            raise UploadError(f"the zip holds a {family!r} model; this build loads only: {known}")
        target = self.path(name or _safe_name(prefix.rstrip("/") or Path(str(zip_path)).stem))
        if target.exists():
            raise UploadError(f"a model named {target.name!r} already exists; rename the zip or delete that model")
        staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=self.root))
        try:
            for path, data in files.items():
                (staging / path).parent.mkdir(parents=True, exist_ok=True)
                (staging / path).write_bytes(data)
            try:
                self.loaders[family](staging, "cpu")
            except ModelFolderError as error:
                reason = str(error).replace(str(staging), "the model")
                raise UploadError(f"the uploaded model is corrupt or incomplete: {reason}") from error
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target.name


def _read_zip(path: Path) -> dict[str, bytes]:
    """Member path -> bytes of a zip, refusing absolute paths, `..`, links and oversized contents."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise UploadError(f"not a zip file ({error}); download a model with the Models tab to get one") from error
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if sum(info.file_size for info in infos) > MAX_UNPACKED_BYTES:
            raise UploadError("the zip unpacks to more than 2 GB; that is not a patchdna model")
        members: dict[str, bytes] = {}
        for info in infos:
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            if info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise UploadError(f"the zip contains an unsafe path {info.filename!r}; refused")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise UploadError(f"the zip contains a symbolic link {info.filename!r}; refused")
            try:
                members["/".join(parts)] = archive.read(info)
            except (zipfile.BadZipFile, OSError, RuntimeError) as error:
                raise UploadError(f"the zip is corrupt ({error})") from error
    if not members:
        raise UploadError("the zip is empty")
    return members


def _safe_name(text: str) -> str:
    """A valid model name derived from a file or folder name (invalid characters become '_')."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", text).strip("._-")[:64].replace("..", "_")
    return name or "uploaded"


def _common_prefix(members: dict[str, bytes]) -> str:
    """'name/' when every member sits in one top folder (how `export_zip` writes), else ''."""
    tops = {path.split("/", 1)[0] for path in members}
    if len(tops) == 1 and all("/" in path for path in members):
        return tops.pop() + "/"
    return ""


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A zip of name -> bytes in memory (tests and tools)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()
