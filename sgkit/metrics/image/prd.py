r"""Precision and recall for distributions (PRD, Sajjadi et al., NeurIPS 2018): the thesis' F_8 / F_1/8.

`"Assessing Generative Models via Precision and Recall" <https://arxiv.org/abs/1806.00035>`_.
The thesis (SceneGraphGen and MIGS chapters) reports "precision" and "recall" as the PRD
summaries :math:`F_{1/8}` and :math:`F_8`. The published procedure:

1. the features of both sets (Inception pool features of the same number of generated and real
   images) are clustered together with mini-batch k-means (20 clusters);
2. each set becomes a histogram over the clusters: :math:`Q` (generated) and :math:`P`
   (reference), normalised to sum 1;
3. the PRD curve is, for slopes :math:`\lambda = \tan\omega` over ``num_angles`` (1001) angles
   :math:`\omega` evenly spaced in :math:`(0, \pi/2)`,

   .. math::
       \alpha(\lambda) = \sum_i \min(\lambda P_i, Q_i), \qquad \beta(\lambda) = \alpha(\lambda) / \lambda,

   :math:`\alpha` the precision and :math:`\beta` the recall;
4. steps 1-3 are repeated ``num_runs`` (10) times with different clusterings and the curves
   averaged;
5. the summaries are the maxima over the curve of
   :math:`F_\beta = (1 + \beta^2) \alpha \beta_r / (\beta^2 \alpha + \beta_r)` for
   :math:`\beta = 8` (recall-weighted: :math:`F_8`, "recall") and :math:`\beta = 1/8`
   (precision-weighted: :math:`F_{1/8}`, "precision").

Identical histograms give :math:`F_8 = F_{1/8} = 1`; disjoint supports give 0. This is not the
k-NN "improved precision and recall" of Kynkäänniemi et al. (2019)
(:func:`~sgkit.metrics.image.improved_precision_recall`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from torch import Tensor

from ._common import _check_features

__all__ = ["PRDResult", "prd", "prd_curve", "prd_f_beta"]


class PRDResult(NamedTuple):
    """PRD summaries and the (run-averaged) curve.

    Attributes:
        f_8: max :math:`F_8` over the curve (the thesis' "recall").
        f_1_8: max :math:`F_{1/8}` over the curve (the thesis' "precision").
        precision: ``[num_angles]`` precision :math:`\\alpha` of the curve.
        recall: ``[num_angles]`` recall :math:`\\beta` of the curve.
    """

    f_8: float
    f_1_8: float
    precision: np.ndarray
    recall: np.ndarray


def _distribution(x: np.ndarray | Tensor, name: str) -> np.ndarray:
    d = np.asarray(x, dtype=np.float64).reshape(-1)
    if d.size == 0 or not np.all(np.isfinite(d)) or d.min() < 0 or abs(d.sum() - 1.0) > 1e-6:
        raise ValueError(f"{name}: expected a non-empty histogram of non-negative values summing to 1, got {d!r}")
    return d


def prd_curve(
    eval_dist: np.ndarray | Tensor, ref_dist: np.ndarray | Tensor, num_angles: int = 1001, epsilon: float = 1e-10
) -> tuple[np.ndarray, np.ndarray]:
    r"""PRD curve of two histograms over the same bins (step 3 of the module docstring).

    Args:
        eval_dist: ``[K]`` histogram of the evaluated (generated) set, summing to 1.
        ref_dist: ``[K]`` histogram of the reference (real) set, summing to 1.
        num_angles: points of the curve (angles evenly spaced in ``[epsilon, pi/2 - epsilon]``).
        epsilon: distance of the first and last angle from 0 and :math:`\pi/2`.

    Returns:
        ``(precision, recall)``, each ``[num_angles]`` in ``[0, 1]``.
    """
    q, p = _distribution(eval_dist, "eval_dist"), _distribution(ref_dist, "ref_dist")
    if q.shape != p.shape:
        raise ValueError(f"eval_dist and ref_dist must have the same bins, got {q.size} and {p.size}")
    if isinstance(num_angles, bool) or not isinstance(num_angles, (int, np.integer)) or num_angles < 3:
        raise ValueError(f"num_angles: expected an integer >= 3, got {num_angles!r}")
    if not 0 < epsilon < np.pi / 4:
        raise ValueError(f"epsilon: expected a value in (0, pi/4), got {epsilon!r}")
    slopes = np.tan(np.linspace(epsilon, np.pi / 2 - epsilon, int(num_angles)))
    precision = np.minimum(slopes[:, None] * p[None, :], q[None, :]).sum(axis=1)
    recall = precision / slopes
    return np.minimum(precision, 1.0), np.minimum(recall, 1.0)


def prd_f_beta(precision: np.ndarray, recall: np.ndarray, beta: float = 8.0) -> tuple[float, float]:
    r"""``(max F_beta, max F_{1/beta})`` over a PRD curve (0 where precision and recall are 0).

    :math:`F_\beta = (1 + \beta^2)\, \alpha\, \beta_r / (\beta^2 \alpha + \beta_r)` weights recall
    :math:`\beta` times as much as precision, so ``max F_8`` summarises recall and
    ``max F_1/8`` precision.
    """
    if not beta > 0:
        raise ValueError(f"beta: expected a positive number, got {beta!r}")
    a = np.asarray(precision, dtype=np.float64)
    r = np.asarray(recall, dtype=np.float64)
    if a.shape != r.shape or a.size == 0:
        raise ValueError(f"precision and recall must be non-empty and of one shape, got {a.shape} and {r.shape}")

    def f(b: float) -> float:
        den = b * b * a + r
        vals = np.divide((1 + b * b) * a * r, den, out=np.zeros_like(a), where=den > 0)
        return float(vals.max())

    return f(beta), f(1.0 / beta)


def _histograms(eval_feats: np.ndarray, ref_feats: np.ndarray, num_clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.cluster import MiniBatchKMeans

    data = np.concatenate([eval_feats, ref_feats])
    km = MiniBatchKMeans(n_clusters=num_clusters, n_init=10, random_state=seed)
    labels = km.fit_predict(data)
    n = eval_feats.shape[0]
    q = np.bincount(labels[:n], minlength=num_clusters) / n
    p = np.bincount(labels[n:], minlength=num_clusters) / (labels.size - n)
    return q, p


def prd(
    real: np.ndarray | Tensor,
    fake: np.ndarray | Tensor,
    *,
    num_clusters: int = 20,
    num_angles: int = 1001,
    num_runs: int = 10,
    enforce_balance: bool = True,
    seed: int = 0,
) -> PRDResult:
    """PRD of generated features against real features with the published procedure.

    Args:
        real: ``[N, D]`` features of real images (e.g. :class:`InceptionFeatures`).
        fake: ``[M, D]`` features of generated images.
        num_clusters: k-means clusters per run (20 in the paper).
        num_angles: points of the PRD curve (1001).
        num_runs: clusterings averaged (10).
        enforce_balance: require ``N == M`` as the paper does (unequal sizes bias the histograms).
        seed: seed of the k-means runs (run ``i`` uses ``seed + i``).

    Returns:
        :class:`PRDResult` with ``f_8`` (recall), ``f_1_8`` (precision) and the averaged curve.

    Raises:
        ValueError: for unequal set sizes with ``enforce_balance``, fewer samples than
            ``num_clusters``, or bad parameters.
    """
    real_t, fake_t = _check_features(real, fake, min_rows=1)
    ref_feats, eval_feats = real_t.numpy(), fake_t.numpy()
    if enforce_balance and ref_feats.shape[0] != eval_feats.shape[0]:
        raise ValueError(
            f"real and fake must have the same number of samples with enforce_balance=True, got "
            f"{ref_feats.shape[0]} and {eval_feats.shape[0]}"
        )
    for name, v, low in (("num_clusters", num_clusters, 1), ("num_runs", num_runs, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise ValueError(f"{name}: expected an integer >= {low}, got {v!r}")
    if num_clusters > ref_feats.shape[0] + eval_feats.shape[0]:
        raise ValueError(
            f"num_clusters={num_clusters} exceeds the {ref_feats.shape[0] + eval_feats.shape[0]} samples"
        )
    if not (np.all(np.isfinite(ref_feats)) and np.all(np.isfinite(eval_feats))):
        raise ValueError("real and fake features must be finite")
    precisions, recalls = [], []
    for run in range(int(num_runs)):
        q, p = _histograms(eval_feats, ref_feats, int(num_clusters), seed + run)
        a, r = prd_curve(q, p, num_angles)
        precisions.append(a)
        recalls.append(r)
    precision, recall = np.mean(precisions, axis=0), np.mean(recalls, axis=0)
    f_8, f_1_8 = prd_f_beta(precision, recall, 8.0)
    return PRDResult(f_8, f_1_8, precision, recall)
