r"""Few-shot segmentation tasks for MetaMedSeg (thesis lines 1230-1270).

A *task* is a support set of ``K`` (image, mask) slices of one data set, on which a base learner
is trained, plus a query set of the same data set for evaluation. Two task definitions:

* **volumetric**: the ``K`` slices of one volume :math:`V` taken with step
  :math:`\lceil |V| / K \rceil`, in slice order (so every task spans its whole volume and tasks
  are balanced across data sets whatever their volume sizes);
* **standard** (Dawoud et al.): ``K`` slices drawn at random among the slices of a data set.

Support and query never come from the same volume: one volume of the data set is drawn for the
query, the support comes from the others.

Data sets are drawn with *weighted task sampling*: an organ with ``z`` data sets (modalities or
zones) gives each of them the weight ``1/z`` before normalisation, so every organ has the same
chance whatever its number of data sets (:func:`organ_weights`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from medkit.datasets.organs import OrganVolumes

__all__ = [
    "TASK_MODES",
    "Task",
    "TaskSampler",
    "organ_weights",
    "volumetric_step",
    "volumetric_indices",
]

TASK_MODES = ("volumetric", "standard")


def _check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def volumetric_step(num_slices: int, shots: int) -> int:
    r"""Slice step :math:`\lceil |V| / K \rceil` of a volumetric task.

    Args:
        num_slices: number of slices :math:`|V|` of the volume.
        shots: number of shots :math:`K`.
    """
    _check_positive("num_slices", num_slices)
    _check_positive("shots", shots)
    return math.ceil(num_slices / shots)


def volumetric_indices(num_slices: int, shots: int, *, offset: int = 0) -> list[int]:
    r"""Slice indices of a volumetric task: ``offset, offset + step, ...`` with
    :math:`\mathrm{step} = \lceil |V| / K \rceil`, in slice order.

    The task holds ``n = len(range(0, |V|, step))`` slices (``<= K``; ``= K`` when ``K`` divides
    ``|V|``, all ``|V|`` slices when ``|V| <= K``). ``offset`` shifts the comb inside the volume
    without losing a slice, so it must lie in ``[0, |V| - 1 - (n - 1) * step]``.

    Args:
        num_slices: number of slices of the volume.
        shots: number of shots ``K``.
        offset: index of the first slice.

    Returns:
        Increasing list of slice indices.

    Raises:
        ValueError: for non-positive sizes or an offset out of range.

    Example:
        >>> volumetric_indices(10, 4)
        [0, 3, 6, 9]
        >>> volumetric_indices(16, 5, offset=2)
        [2, 6, 10, 14]
    """
    step = volumetric_step(num_slices, shots)
    n = len(range(0, num_slices, step))
    max_offset = num_slices - 1 - (n - 1) * step
    if not isinstance(offset, int) or not 0 <= offset <= max_offset:
        raise ValueError(
            f"offset must be an int in [0, {max_offset}] for num_slices={num_slices}, shots={shots}, "
            f"got {offset!r}"
        )
    return [offset + i * step for i in range(n)]


def organ_weights(organs: Sequence[str]) -> Tensor:
    """Weighted task sampling: data set ``i`` of an organ with ``z`` data sets gets ``1/z``,
    normalised to sum one.

    Args:
        organs: the organ of every data set (e.g. ``["brain", "brain", "liver"]``).

    Returns:
        Float tensor ``[len(organs)]`` summing to one (every organ's total is ``1/#organs``).

    Example:
        >>> organ_weights(["brain", "brain", "liver"])
        tensor([0.2500, 0.2500, 0.5000])
    """
    organs = list(organs)
    if not organs:
        raise ValueError("organs must name at least one data set")
    counts: dict[str, int] = {}
    for o in organs:
        counts[o] = counts.get(o, 0) + 1
    w = torch.tensor([1.0 / counts[o] for o in organs])
    return w / w.sum()


@dataclass
class Task:
    """One few-shot segmentation task.

    Attributes:
        dataset: index of the data set in the sampler's list.
        name: data set name.
        support_images: ``[K, 1, H, W]``.
        support_masks: ``[K, H, W]`` long ``{0, 1}``.
        query_images: ``[Q, 1, H, W]``.
        query_masks: ``[Q, H, W]``.
        support_index: ``(volume, slice)`` of every support slice.
        query_index: ``(volume, slice)`` of every query slice.
    """

    dataset: int
    name: str
    support_images: Tensor
    support_masks: Tensor
    query_images: Tensor
    query_masks: Tensor
    support_index: list[tuple[int, int]] = field(default_factory=list)
    query_index: list[tuple[int, int]] = field(default_factory=list)


class TaskSampler:
    """Draws MetaMedSeg tasks from a list of source data sets.

    Args:
        datasets: source data sets (each with at least two volumes).
        shots: support size ``K``.
        query_shots: query size (default ``shots``).
        mode: ``"volumetric"`` or ``"standard"`` task definition.
        weighted: sample data sets with :func:`organ_weights` (else uniformly).
        seed: seed of the sampler's :class:`torch.Generator` (ignored if ``generator`` given).
        generator: an explicit generator.

    Example:
        >>> from medkit.datasets.organs import synthetic_organs
        >>> sampler = TaskSampler(synthetic_organs("target", num_volumes=2, num_slices=8, image_size=32), shots=4)
        >>> task = sampler.sample(1)[0]
        >>> task.support_images.shape[1:], len(task.support_index) <= 4
        (torch.Size([1, 32, 32]), True)
    """

    def __init__(
        self,
        datasets: Sequence[OrganVolumes],
        *,
        shots: int = 15,
        query_shots: int | None = None,
        mode: str = "volumetric",
        weighted: bool = True,
        seed: int = 0,
        generator: torch.Generator | None = None,
    ) -> None:
        datasets = list(datasets)
        if not datasets:
            raise ValueError("datasets must not be empty")
        for d in datasets:
            if d.num_volumes < 2:
                raise ValueError(
                    f"data set {d.name!r} has {d.num_volumes} volume(s); support and query come from "
                    "different volumes, so at least 2 are needed"
                )
        _check_positive("shots", shots)
        if query_shots is None:
            query_shots = shots
        _check_positive("query_shots", query_shots)
        if mode not in TASK_MODES:
            raise ValueError(f"mode must be one of {TASK_MODES}, got {mode!r}")
        self.datasets = datasets
        self.shots = shots
        self.query_shots = query_shots
        self.mode = mode
        self.weighted = weighted
        if generator is None:
            generator = torch.Generator().manual_seed(seed)
        self.generator = generator
        if weighted:
            self.weights = organ_weights([d.organ for d in datasets])
        else:
            self.weights = torch.full((len(datasets),), 1.0 / len(datasets))

    def __len__(self) -> int:
        return len(self.datasets)

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def sample_datasets(self, num_tasks: int, *, replacement: bool = False) -> list[int]:
        """Draw ``num_tasks`` data-set indices with probabilities :attr:`weights`.

        Without replacement (default) a data set appears at most once per call, which needs
        ``num_tasks <= len(datasets)``.
        """
        _check_positive("num_tasks", num_tasks)
        if not replacement and num_tasks > len(self.datasets):
            raise ValueError(
                f"num_tasks={num_tasks} exceeds the {len(self.datasets)} data sets; pass replacement=True"
            )
        idx = torch.multinomial(self.weights, num_tasks, replacement=replacement, generator=self.generator)
        return [int(i) for i in idx]

    def _volumetric(self, data: OrganVolumes, volume: int, shots: int) -> list[tuple[int, int]]:
        n = data.num_slices(volume)
        step = volumetric_step(n, shots)
        count = len(range(0, n, step))
        offset = self._randint(n - (count - 1) * step)
        return [(volume, s) for s in volumetric_indices(n, shots, offset=offset)]

    def _standard(self, data: OrganVolumes, volumes: Sequence[int], shots: int) -> list[tuple[int, int]]:
        pool = [(v, s) for v in volumes for s in range(data.num_slices(v))]
        pick = torch.randperm(len(pool), generator=self.generator)[:shots]
        return [pool[int(i)] for i in pick]

    def sample_task(self, dataset: int) -> Task:
        """Draw one task of data set ``dataset`` (support and query from different volumes)."""
        if not 0 <= dataset < len(self.datasets):
            raise ValueError(f"dataset must be in [0, {len(self.datasets) - 1}], got {dataset}")
        data = self.datasets[dataset]
        perm = [int(v) for v in torch.randperm(data.num_volumes, generator=self.generator)]
        query_volume, others = perm[0], perm[1:]
        if self.mode == "volumetric":
            support = self._volumetric(data, others[0], self.shots)
            query = self._volumetric(data, query_volume, self.query_shots)
        else:
            support = self._standard(data, others, self.shots)
            query = self._standard(data, [query_volume], self.query_shots)
        s_img, s_msk = data.take(support)
        q_img, q_msk = data.take(query)
        return Task(dataset, data.name, s_img, s_msk, q_img, q_msk, support, query)

    def sample(self, num_tasks: int, *, replacement: bool = False) -> list[Task]:
        """Draw data sets with :meth:`sample_datasets`, then one task from each."""
        return [self.sample_task(d) for d in self.sample_datasets(num_tasks, replacement=replacement)]

    def __repr__(self) -> str:
        return (
            f"TaskSampler(datasets={len(self.datasets)}, shots={self.shots}, query_shots={self.query_shots}, "
            f"mode={self.mode!r}, weighted={self.weighted})"
        )
