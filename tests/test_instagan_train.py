"""InstaGAN training, saving, inference, CLI and 2-process torchrun (tiny sizes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from patchdna.cli import main as cli_main
from patchdna.errors import ConfigError, ModelFolderError
from patchdna.instagan import (
    InstaGANConfig,
    InstanceDataset,
    build,
    load,
    make_shapes,
    save,
    scan_official,
    train,
    translate,
)
from patchdna.instagan.train import Batch, Trainer, learning_rate_factor

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny networks run fastest on one thread; on a shared 2-core machine, more threads oversubscribe."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tiny(**overrides: object) -> InstaGANConfig:
    values: dict = {
        "load_size": (20, 20),
        "crop_size": (16, 16),
        "generator_width": 4,
        "discriminator_width": 4,
        "residual_blocks": 1,
        "discriminator_layers": 2,
        "batch_size": 2,
        "steps": 2,
        "decay_steps": 1,
    }
    values.update(overrides)
    return InstaGANConfig.preset("fast", **values)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_shapes(tmp_path_factory.mktemp("shapes"), n=6, size=32, seed=0)


def _data(root: Path, config: InstaGANConfig, domain: str) -> InstanceDataset:
    return InstanceDataset(
        scan_official(root, "train", domain),
        load_size=config.load_size,
        crop_size=config.crop_size,
        ins_max=config.ins_max,
        flip=config.flip,
    )


def test_bad_configs_raise() -> None:
    with pytest.raises(ConfigError, match="ins_per"):
        InstaGANConfig(ins_max=2, ins_per=3)
    with pytest.raises(ConfigError, match="divisible by 4"):
        InstaGANConfig(load_size=(30, 30), crop_size=(30, 30))
    with pytest.raises(ConfigError, match="too small"):
        InstaGANConfig(load_size=(16, 16), crop_size=(16, 16))
    with pytest.raises(ConfigError, match="unknown preset"):
        InstaGANConfig.preset("slow")  # type: ignore[arg-type]
    assert InstaGANConfig.from_dict(_tiny().to_dict()) == _tiny()


def test_learning_rate_is_constant_then_linear_to_zero() -> None:
    factors = [learning_rate_factor(step, 3, 3) for step in range(6)]
    assert factors[:3] == [1.0, 1.0, 1.0] and factors[3] > factors[4] > factors[5] > 0


def test_batch_of_two_trains_with_sequential_passes(shapes: Path) -> None:
    config = _tiny(ins_max=4, ins_per=1)
    model = build(config, seed=0)
    trainer = Trainer(model, device=torch.device("cpu"))
    data_a, data_b = _data(shapes, config, "A"), _data(shapes, config, "B")
    a = Batch(*data_a.batch([0, 1], [0, 1]))
    b = Batch(*data_b.batch([2, 3], [2, 3]))
    before = [p.detach().clone() for p in model.generator_ab.parameters()]
    losses = trainer.step(a, b)
    assert {"g_gan_ab", "cycle_a", "identity_b", "context_a", "d_a", "d_b"} <= set(losses)
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    assert any(not torch.equal(p, q) for p, q in zip(before, model.generator_ab.parameters()))


def test_save_load_gives_identical_translation_and_resume_continues(shapes: Path, tmp_path: Path) -> None:
    config = _tiny()
    out = tmp_path / "model"
    data_a, data_b = _data(shapes, config, "A"), _data(shapes, config, "B")
    model = train(config, data_a, data_b, out, seed=3, progress=False, max_steps=2, preview_every=1)
    assert (out / "previews" / "step_000002.png").is_file()
    image, masks, _ = data_a.item(0)
    image, masks = (image[None] + 1) / 2, (masks[None] + 1) / 2
    first = translate(model, image, masks, "AtoB", 2)
    again = translate(load(out), image, masks, "AtoB", 2)
    assert torch.equal(first.image, again.image) and torch.equal(first.masks, again.masks)
    resumed = train(config, data_a, data_b, out, seed=3, progress=False, resume=True)
    assert json.loads((out / "config.json").read_text())["iteration"] == config.total_steps
    assert not torch.equal(translate(resumed, image, masks).image, first.image)
    with pytest.raises(ModelFolderError, match="already holds a model"):
        train(config, data_a, data_b, out, progress=False)
    child = train(config, data_a, data_b, tmp_path / "child", init_from=out, max_steps=0, progress=False)
    assert torch.equal(translate(child, image, masks).image, translate(resumed, image, masks).image)
    with pytest.raises(ConfigError, match="other network widths"):
        train(_tiny(generator_width=8), data_a, data_b, tmp_path / "c2", init_from=out, progress=False)
    with pytest.raises(ConfigError, match="another config"):
        train(_tiny(generator_width=8), data_a, data_b, out, progress=False, resume=True)


def test_sequential_inference_takes_more_masks_than_training(tmp_path: Path) -> None:
    model = build(_tiny(ins_max=2), seed=0).eval()
    save(model, tmp_path / "m")
    model = load(tmp_path / "m")
    image = torch.rand(1, 3, 18, 22)  # not a multiple of 4: resized for the networks and back
    masks = torch.zeros(1, 7, 18, 22)
    for k in range(6):  # 6 instances + 1 empty mask
        masks[0, k, 2 * k : 2 * k + 3, 1 + 3 * k : 4 + 3 * k] = 1
    result = translate(model, image, masks, "BtoA", ins_per=2)
    assert result.image.shape == (1, 3, 18, 22) and result.masks.shape == (1, 7, 18, 22)
    assert float(result.masks[0, 6].abs().max()) == 0.0  # the empty mask stays empty
    assert 0 <= float(result.image.min()) and float(result.image.max()) <= 1


def test_load_refuses_a_damaged_folder(tmp_path: Path) -> None:
    save(build(_tiny(), seed=0), tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelFolderError, match="does not match"):
        load(tmp_path / "m")


def test_cli_make_shapes_train_translate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, model, out = tmp_path / "shapes", tmp_path / "model", tmp_path / "out"
    assert cli_main(["instagan", "make-shapes", str(data), "--n", "3", "--size", "32"]) == 0
    args = [
        "instagan",
        "train",
        str(model),
        "--data",
        str(data),
        "--crop-size",
        "24x24",
        "--width",
        "4",
        "--steps",
        "1",
        "--decay-steps",
        "0",
        "--quiet",
        "--device",
        "cpu",
    ]
    assert cli_main(args) == 0
    assert (
        cli_main(
            [
                "instagan",
                "translate",
                str(model),
                str(data / "testA"),
                "--masks",
                str(data / "testA_seg"),
                "--out",
                str(out),
                "--ins-per",
                "1",
            ]
        )
        == 0
    )
    assert (out / "00000.png").is_file() and (out / "00000_0.png").is_file() and (out / "00000_sheet.png").is_file()
    capsys.readouterr()
    assert cli_main(["instagan", "translate", str(model), str(data / "testA"), "--masks", str(tmp_path)]) == 2
    assert "has no masks" in capsys.readouterr().err
    assert cli_main(["instagan", "train", str(model)]) == 2
    assert "give --data" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_torchrun_two_processes_match_one_process_with_doubled_batch(shapes: Path, tmp_path: Path) -> None:
    common = [
        "--data",
        str(shapes),
        "--crop-size",
        "24x24",
        "--width",
        "4",
        "--steps",
        "2",
        "--decay-steps",
        "0",
        "--quiet",
        "--device",
        "cpu",
        "--seed",
        "5",
    ]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(_free_port()),
        "-m",
        "patchdna.cli",
        "instagan",
        "train",
        str(tmp_path / "ddp"),
        "--batch-size",
        "1",
        *common,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert cli_main(["instagan", "train", str(tmp_path / "single"), "--batch-size", "2", *common]) == 0
    ddp = json.loads((tmp_path / "ddp" / "config.json").read_text())["last_losses"]
    single = json.loads((tmp_path / "single" / "config.json").read_text())["last_losses"]
    assert ddp.keys() == single.keys()
    # Step 2's losses depend on step 1's averaged gradients. "Within noise": the sums are reduced in another
    # order (differences ~1e-7), and Adam's first update is about lr * sign(gradient), which turns round-off on
    # near-zero components into lr-sized steps; measured differences are <= 0.4% (first-pass losses: 1e-6).
    for name in ddp:
        assert ddp[name] == pytest.approx(single[name], rel=1e-2, abs=1e-4), name
