"""Settings of the demo pipeline (:class:`DemoConfig`) and its progress log (:func:`log`).

Shared by :mod:`sgkit.demo` (orchestration and command line) and the stage modules
:mod:`sgkit.demo_generation`, :mod:`sgkit.demo_evaluation`, :mod:`sgkit.demo_image` and
:mod:`sgkit.demo_report`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DemoConfig", "log"]


@dataclass
class DemoConfig:
    """Budget and settings of the demo pipeline.

    Attributes:
        out: output folder.
        seed: global seed (data, models, sampling).
        num_train: training scenes.
        num_test: held-out scenes (MMD reference and anomaly detection).
        epochs: training epochs of each model.
        batch_size: graphs per optimisation step.
        lr: Adam learning rate.
        lr_decay: multiplicative decay of the learning rate after every epoch (with
            0.92 the final training loss of SceneGraphGen drops by about 1 nat per graph
            compared with a constant rate at the same budget).
        num_samples: graphs sampled from each model.
        model_kwargs: sizes of both models (compact CPU configuration; the thesis sizes are the
            class defaults).
        corruption_levels: fractions of corrupted node/edge labels for the anomaly detection.
        ordering: node ordering used for training and NLL.
        threads: torch intra-op threads that ``python -m sgkit.demo`` and the examples set before
            :func:`~sgkit.demo.run` (which leaves torch's setting alone); 1 avoids over-subscription
            on shared machines.
        progress: show tqdm progress bars.
        image_scenes: training scenes (with images) of the short SG2Im image-generation stage.
        image_steps: SG2Im training steps (0 skips the image stage).
        image_seconds: time budget of the SG2Im training in seconds.
    """

    out: str = "runs/demo"
    seed: int = 0
    num_train: int = 1500
    num_test: int = 1000
    epochs: int = 25
    batch_size: int = 32
    lr: float = 1e-2
    lr_decay: float = 0.92
    num_samples: int = 1000
    model_kwargs: dict[str, Any] = field(
        default_factory=lambda: {
            "max_nodes": 10, "hidden_dim": 64, "num_layers": 2, "node_embedding_dim": 32, "edge_embedding_dim": 8,
            "mlp_hidden_dim": 64,
        }
    )
    corruption_levels: tuple[float, ...] = (0.2, 0.5, 1.0)
    ordering: str = "random"
    threads: int = 1
    progress: bool = True
    image_scenes: int = 400
    image_steps: int = 300
    image_seconds: float = 90.0

    @classmethod
    def quick(cls, **kwargs: Any) -> DemoConfig:
        """A smoke-test budget (about a minute on 2 cores)."""
        base = {"num_train": 600, "num_test": 300, "epochs": 6, "num_samples": 300, "image_scenes": 200,
                "image_steps": 60, "image_seconds": 30.0}
        base.update(kwargs)
        return cls(**base)


def log(msg: str) -> None:
    """Print a time-stamped progress line of the demo (flushed at once).

    Args:
        msg: the message.
    """
    print(f"[sgkit.demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)
