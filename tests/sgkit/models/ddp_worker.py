"""A few SG2Im steps under torch.distributed (launched by test_distributed.py with torchrun)."""
from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist


def setup():
    from sgkit.datasets import ShapesWorld
    from sgkit.models import SG2Im, SG2ImConfig

    ds = ShapesWorld(80, seed=4, progress=False)
    scenes = [ds[i] for i in range(len(ds)) if ds[i]["object"].num_nodes == 4][:8]
    # No batch norm, no layout noise: the per-rank computation is then exactly a slice of the
    # single-process one (batch statistics and noise draws would differ per rank otherwise).
    config = SG2ImConfig(
        num_objects=36, num_predicates=6, image_size=32, embedding_dim=16, gconv_dim=16,
        gconv_hidden_dim=32, gconv_layers=2, head_hidden_dim=16, mask_size=0, layout_noise_dim=0,
        decoder_dims=(16, 8, 8), d_img_dims=(8, 16), d_obj_dims=(8, 16), crop_size=8, lr=2e-3,
        d_normalization="none", decoder_normalization="none")
    return SG2Im(config, seed=1), scenes


def main(out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    model, scenes = setup()
    model.fit(scenes, steps=3, batch_size=4, seed=0, progress=False,
              checkpoint_path=os.path.join(out_dir, "ddp.pt"))
    torch.save(model.state_dict(), os.path.join(out_dir, f"rank{dist.get_rank()}.pt"))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
