"""benchmarks/run_all.py: marker parsing, region rewriting and the figure, on a fake benchmark script."""

import importlib.util
import sys
from pathlib import Path

import pytest

RUN_ALL = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"


@pytest.fixture()
def run_all(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("run_all_under_test", RUN_ALL)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "run_all_under_test", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "REGISTRY", (module.Benchmark("fake", "a fake benchmark", "test"),))
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "fake.py").write_text(
        "import sys\n"
        "quick = '--quick' in sys.argv\n"
        "print('noise before')\n"
        "print('<!-- table:fake_table -->')\n"
        "print('| a | b |')\n"
        "print('|---|---|')\n"
        "print(f'| {2 if quick else 1} | x |')\n"
        "print('<!-- /table:fake_table -->')\n"
        'print(\'@point {"method": "M", "preset": "fast", "train_seconds": 60, "patch_swd": 1.5}\')\n'
    )
    return module


def test_replace_region_keeps_the_rest_and_appends_new_sections(run_all):
    text = "# B\n\nintro\n<!-- table:t -->\nold\n<!-- /table:t -->\nafter\n"
    replaced = run_all.replace_region(text, "t", "new", "T")
    assert replaced == "# B\n\nintro\n<!-- table:t -->\nnew\n<!-- /table:t -->\nafter\n"
    appended = run_all.replace_region(text, "u", "body", "Heading U")
    assert appended.endswith("## Heading U\n\n<!-- table:u -->\nbody\n<!-- /table:u -->\n") and "old" in appended


def test_main_rewrites_marked_tables(run_all, tmp_path):
    markdown = tmp_path / "BENCHMARKS.md"
    markdown.write_text(
        "# Benchmarks\n\nhand-written text\n\n<!-- table:fake_table -->\nstale\n<!-- /table:fake_table -->\n"
    )
    assert run_all.main(["fake", "--benchmarks-md", str(markdown)]) == 0
    text = markdown.read_text()
    assert "| 1 | x |" in text and "stale" not in text and "hand-written text" in text
    assert "<!-- table:run_all_meta -->" in text and "| `fake` | ok |" in text
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "time_vs_swd.png").stat().st_size > 0 and "time_vs_swd.png" in text


def test_quick_runs_write_elsewhere_and_pass_the_flag(run_all, tmp_path):
    markdown = tmp_path / "BENCHMARKS.md"
    markdown.write_text("# Benchmarks\n")
    assert run_all.main(["--quick", "--benchmarks-md", str(markdown)]) == 0
    assert markdown.read_text() == "# Benchmarks\n"
    assert "| 2 | x |" in (tmp_path / "runs" / "BENCHMARKS.quick.md").read_text()


def test_missing_script_is_reported_not_fatal(run_all, tmp_path):
    (tmp_path / "benchmarks" / "fake.py").unlink()
    assert run_all.main(["--benchmarks-md", str(tmp_path / "B.md")]) == 0
    assert "| `fake` | missing |" in (tmp_path / "B.md").read_text()
