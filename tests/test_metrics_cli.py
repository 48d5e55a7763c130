import csv
import json

import pytest
from metrics_fixtures import blur, textured, tiny_weights

from patchdna.cli import main
from patchdna.io import save_image
from patchdna.metrics.evaluate import EvalOptions, evaluate_folder


@pytest.fixture()
def study(tmp_path):
    """Real/{0,1}.png, One/{i}.png (one sample each), Many/{i}_{k}.png (two samples each)."""
    for index in range(2):
        real = textured(40, seed=index)
        save_image(real, tmp_path / "Real" / f"{index}.png")
        save_image(blur(real), tmp_path / "One" / f"{index}.png")
        for k in range(2):
            save_image(textured(40, seed=10 + 2 * index + k), tmp_path / "Many" / f"{index}_{k}.png")
    return tmp_path


def test_pair_mode_json_parses(study, capsys):
    real, fake = study / "Real" / "0.png", study / "One" / "0.png"
    code = main(["eval", str(real), str(real), str(fake), "--metrics", "swd,diversity,bds,psnr,ssim", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    identical, blurred = result["samples"]
    assert identical["psnr"] == "inf" and identical["swd"] == 0.0 and identical["ssim"] == pytest.approx(1.0)
    assert blurred["swd"] > 0 and blurred["bds"] > identical["bds"] and blurred["psnr"] < 40
    assert result["mean"]["diversity"] > 0


def test_folder_mode_table_json_and_csv(study, capsys):
    out_json, out_csv = study / "out" / "scores.json", study / "out" / "scores.csv"
    args = ["eval", str(study / "Real"), str(study / "One"), str(study / "Many"), "--metrics", "swd,diversity,bds"]
    assert main([*args, "--json-out", str(out_json), "--csv-out", str(out_csv)]) == 0
    printed = capsys.readouterr().out
    assert "One: 2 real images, 2 samples" in printed and "Many: 2 real images, 4 samples" in printed
    result = json.loads(out_json.read_text())
    assert set(result["methods"]) == {"One", "Many"}
    assert (
        "diversity" in result["methods"]["Many"]["summary"] and "diversity" not in result["methods"]["One"]["summary"]
    )
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 4 and {row["method"] for row in rows} == {"One", "Many"}
    assert all(float(row["swd"]) > 0 for row in rows)


def test_user_errors_are_one_line(study, capsys):
    assert main(["eval", str(study / "Real"), str(study / "One"), "--metrics", "swd,fid"]) == 2
    assert "unknown metric(s) fid" in capsys.readouterr().err
    (study / "Broken").mkdir()
    save_image(textured(40), study / "Broken" / "0.png")
    assert main(["eval", str(study / "Real"), str(study / "Broken")]) == 2
    assert "have no sample" in capsys.readouterr().err
    assert main(["eval", str(study / "Real" / "0.png"), str(study / "One")]) == 2
    assert "must be image files" in capsys.readouterr().err
    small = study / "small.png"
    save_image(textured(40)[:, :, :, :36], small)
    assert main(["eval", str(study / "Real" / "0.png"), str(small), "--metrics", "psnr"]) == 2
    assert "same size" in capsys.readouterr().err


def test_sifid_through_the_cli_with_user_weights(study, tmp_path, capsys):
    weights = tiny_weights(tmp_path / "tiny.safetensors")
    args = ["eval", str(study / "Real"), str(study / "One"), "--metrics", "sifid", "--sifid-weights", str(weights)]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["methods"]["One"]["summary"]["sifid"]["mean"] > 0 and "tiny.safetensors" in result["sifid_weights"]


def test_evaluate_folder_api_limit(study):
    report = evaluate_folder(study / "Real", study / "Many", EvalOptions(metrics=("swd",)), limit=1)
    assert len(report.rows) == 1 and report.summary["swd"]["n"] == 1


def test_eval_imports_no_model_family(study):
    """`patchdna eval` builds a parser for itself only: no SinGAN/InGAN/InstaGAN/UI import on its start-up."""
    import subprocess
    import sys

    real, fake = study / "Real" / "0.png", study / "One" / "0.png"
    code = (
        "import sys; from patchdna.cli import main\n"
        f"assert main(['eval', {str(real)!r}, {str(fake)!r}, '--metrics', 'psnr']) == 0\n"
        "loaded = [name for name in sys.modules if name.startswith(('patchdna.singan', 'patchdna.ingan', "
        "'patchdna.instagan', 'patchdna.ui', 'patchdna.demo'))]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "psnr" in result.stdout
