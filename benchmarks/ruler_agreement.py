"""Check that patchdna.metrics.patch_swd / diversity agree with the shared ruler (../shared/tools/patchmetrics.py).

Both are run on a few user-study images, each loading the files its own way (patchdna.io.load_image vs the
ruler's PIL loader); the relative difference must be under 2% (it is expected to be 0: same definition).

    python benchmarks/ruler_agreement.py [--quick]
Prints a markdown table between <!-- table:ruler_agreement --> markers; exit code 1 if any pair differs > 2%.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from patchdna.io import load_image
from patchdna.metrics import diversity, patch_swd

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def load_ruler(path: Path):
    spec = importlib.util.spec_from_file_location("patchmetrics", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 images instead of 5")
    parser.add_argument("--shared", type=Path, default=SHARED)
    args = parser.parse_args(argv)
    ruler_path = args.shared / "tools" / "patchmetrics.py"
    if not ruler_path.is_file():
        print(f"ruler_agreement: {ruler_path} not found", file=sys.stderr)
        return 2
    ruler = load_ruler(ruler_path)
    data = args.shared / "datasets" / "user-studies"
    count = 2 if args.quick else 5
    rows, worst = [], 0.0
    for index in range(count):
        for method in ("SinGAN", "ConSinGAN"):
            real_path, fake_path = data / "places" / "Real" / f"{index}.jpg", data / "places" / method / f"{index}.jpg"
            ours = patch_swd(load_image(real_path), load_image(fake_path))
            theirs = ruler.patch_swd(ruler.load(str(real_path)), ruler.load(str(fake_path)))
            rows.append((f"places {index} {method}", "patch SWD", ours, theirs))
        real_path = data / "lsun" / "Real" / f"{index}.jpg"
        fakes = [data / "lsun" / "SinGAN" / f"{index}_{k}.jpg" for k in range(10)]
        ours = diversity([load_image(path) for path in fakes], load_image(real_path))
        theirs = ruler.diversity([ruler.load(str(path)) for path in fakes], ruler.load(str(real_path)))
        rows.append((f"lsun {index} SinGAN x10", "diversity", ours, theirs))
    print("<!-- table:ruler_agreement -->")
    print("| images | metric | patchdna.metrics | shared ruler | relative difference |")
    print("|---|---|---|---|---|")
    for name, metric, ours, theirs in rows:
        difference = abs(ours - theirs) / max(abs(theirs), 1e-12)
        worst = max(worst, difference)
        print(f"| {name} | {metric} | {ours:.6f} | {theirs:.6f} | {100 * difference:.4f}% |")
    print("<!-- /table:ruler_agreement -->")
    print(f"\nlargest relative difference: {100 * worst:.4f}% (limit 2%)")
    return 0 if worst <= 0.02 else 1


if __name__ == "__main__":
    sys.exit(main())
