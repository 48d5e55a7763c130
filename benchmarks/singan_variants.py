"""Train one SinGAN fast-preset variant on one user-study image and score 10 samples (the design experiments
of BENCHMARKS.md).

    OMP_NUM_THREADS=1 python benchmarks/singan_variants.py places 0 '{"num_scales": 8, "spacing": "uniform"}'

Prints one JSON line: CPU and wall seconds, patch SWD, diversity and bidirectional similarity (BDS, 4 samples)
of our samples, and the same for the published SinGAN / ConSinGAN samples of that image.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import torch
from singan_places import USER_STUDIES

from patchdna import singan
from patchdna.io import load_image
from patchdna.metrics import bidirectional_similarity, diversity, patch_swd


def _mean_bds(real: torch.Tensor, images: list[torch.Tensor]) -> float:
    """Mean bidirectional patch similarity (completeness + coherence) of `images` against `real`."""
    return sum(bidirectional_similarity(real, x).bds for x in images) / len(images)


def main() -> int:
    torch.set_num_threads(1)
    dataset, index = sys.argv[1], sys.argv[2]
    overrides = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    real_path = USER_STUDIES / dataset / "Real" / f"{index}.jpg"
    config = singan.preset("fast", **overrides)
    # A stable name (not the salted `hash()`): the same overrides resume or reuse their folder in a later run,
    # which then reports the times recorded by the run that trained it.
    digest = hashlib.sha256(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
    out = Path("runs/variants") / f"{dataset}{index}_{digest}"
    wall, cpu = time.time(), time.process_time()
    model = singan.train(real_path, out, config=config, device="cpu", resume=True, show_progress=False, preview=False)
    wall, cpu = time.time() - wall, time.process_time() - cpu
    stored = json.loads((out / "config.json").read_text())
    wall, cpu = stored.get("train_seconds", wall), stored.get("train_cpu_seconds", cpu)
    real = load_image(real_path, max_size=config.max_size)
    samples = [s[None] for s in singan.sample(model, 10, seed=0)]
    published = {}
    for method in ("SinGAN", "ConSinGAN"):
        folder = USER_STUDIES / dataset / method
        images = [load_image(p) for p in sorted(folder.glob(f"{index}.*")) + sorted(folder.glob(f"{index}_*.*"))]
        published[method] = (
            round(sum(patch_swd(real, x) for x in images) / len(images), 3),
            round(diversity(images, real), 3) if len(images) > 1 else None,
            round(_mean_bds(real, images[:4]), 3),
        )
    row = {
        "dataset": dataset,
        "index": index,
        "overrides": overrides,
        "sizes": model.sizes,
        "train_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "swd": round(sum(patch_swd(real, s) for s in samples) / len(samples), 3),
        "diversity": round(diversity(samples, real), 3),
        # a check on another statistic than the ruler's (nearest-patch, not sliced-Wasserstein)
        "bds": round(_mean_bds(real, samples[:4]), 3),
        "published": published,
    }
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
