"""Train SG2Im on ShapesWorld, in one process or data-parallel on several devices (torchrun).

Trains an SG2Im model (a preset of :data:`sgkit.models.PRESETS`) on ShapesWorld scenes with the
shared trainer, writes a checkpoint, sample grids, a loss curve and ``results.json`` (MAE, SSIM
and object check on held-out scenes with ground-truth boxes). Under ``torchrun`` every process
trains on its slice of each global batch (gradients averaged before each step; gloo on CPUs,
nccl on GPUs) and only rank 0 evaluates and writes files.

Usage::

    python examples/train_sg2im.py --out runs/train_sg2im --quick
    torchrun --nproc_per_node=4 examples/train_sg2im.py --out runs/train_sg2im --preset crn-64 \\
        --device cuda --steps 100000 --batch-size 128

``--threads`` sets torch's CPU threads per process (1 is fastest for the small presets on a busy
machine; results do not depend on it beyond floating-point rounding).
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch
import torch.distributed as dist

from sgkit.datasets import ShapesWorld
from sgkit.metrics.object_check import category_colours, evaluate_generation
from sgkit.models import SG2Im, SG2ImConfig
from sgkit.models.distributed import is_main_process, world_size
from sgkit.viz import plot_training_curves


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--quick", action="store_true", help="small budget (about 1 minute on 2 cores)")
    parser.add_argument("--preset", default="crn-small", help="SG2Im preset (crn-small, spade-small, crn-64, spade-64)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default 2000, --quick 60)")
    parser.add_argument("--batch-size", type=int, default=16, help="global batch size (split over the processes)")
    parser.add_argument("--scenes", type=int, default=None, help="ShapesWorld scenes (default 2000, --quick 200)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (each process uses cuda:LOCAL_RANK)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per process")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = torch.device(args.device)
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    steps = args.steps if args.steps is not None else (60 if args.quick else 2000)
    n = args.scenes if args.scenes is not None else (200 if args.quick else 2000)
    main_rank = is_main_process()
    ds = ShapesWorld(n + 32, seed=args.seed, progress=main_rank and not args.no_progress)
    scenes = [ds[i] for i in range(len(ds))]
    train, test = scenes[:-32], scenes[-32:]
    config = SG2ImConfig.preset(args.preset, vocab=ds.vocab)
    model = SG2Im(config, vocab=ds.vocab, seed=args.seed).to(device)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.monotonic()
    model.fit(train, steps=steps, batch_size=args.batch_size, seed=args.seed,
              progress=not args.no_progress, checkpoint_path=os.path.join(args.out, "sg2im.pt"),
              checkpoint_every=max(steps // 4, 1), sample_dir=args.out, sample_graphs=test[:8])
    seconds = time.monotonic() - t0
    results: dict = {}
    if main_rank:
        colours = category_colours(train, config.num_objects)
        results = {"preset": args.preset, "steps": len(model.history), "processes": world_size(),
                   "global_batch_size": args.batch_size, "seconds": seconds,
                   "test": evaluate_generation(model, test, colours, seed=args.seed),
                   "files": [plot_training_curves(model.history, os.path.join(args.out, "losses.png"),
                                                  keys=("total", "image_l1", "d_img", "d_obj"),
                                                  title="SG2Im training losses"),
                             os.path.join(args.out, "samples_final.png"), os.path.join(args.out, "sg2im.pt")]}
        with open(os.path.join(args.out, "results.json"), "w") as fh:
            json.dump(results, fh, indent=2)
        print(json.dumps(results["test"], indent=2))
    if distributed:
        dist.destroy_process_group()
    return results


if __name__ == "__main__":
    main()
