"""Learning curves of simulated federations: :func:`plot_learning_curves` (matplotlib ``Figure``, no pyplot)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fedkit._simulation_result import SimulationResult

__all__ = ["plot_learning_curves"]


def plot_learning_curves(
    results: Mapping[str, SimulationResult],
    path: str | Path | None = None,
    *,
    metric: str = "global_acc",
    title: str | None = None,
    ax: Any = None,
) -> Any:
    """Plot accuracy against rounds for several runs (``local_mean`` gets a +-std band).

    Args:
        results: label -> result.
        path: if given, the figure is saved there.
        metric: ``"global_acc"`` or ``"local_mean"``.
        title: axis title.
        ax: existing matplotlib axis.

    Returns:
        The matplotlib figure.
    """
    from matplotlib.figure import Figure

    if metric not in ("global_acc", "local_mean"):
        raise ValueError(f"metric must be 'global_acc' or 'local_mean', got {metric!r}")
    if ax is None:
        fig = Figure(figsize=(6, 4))  # no pyplot: the user's backend is left alone
        ax = fig.subplots()
    else:
        fig = ax.figure
    for label, res in results.items():
        recs = [h for h in res.history if metric in h]
        r = np.array([h["round"] for h in recs])
        v = np.array([h[metric] for h in recs], dtype=float)
        (line,) = ax.plot(r, v, label=label)
        if metric == "local_mean":
            s = np.array([h["local_std"] for h in recs], dtype=float)
            ax.fill_between(r, v - s, v + s, color=line.get_color(), alpha=0.15)
    ax.set_xlabel("round")
    ax.set_ylabel("accuracy" if metric == "global_acc" else "local accuracy (mean +- std)")
    ax.set_ylim(0, 1)
    if title:
        ax.set_title(title)
    # beside the axes, so that the legend never covers a curve
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig
