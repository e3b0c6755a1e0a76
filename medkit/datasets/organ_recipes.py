"""Recipes of the synthetic organs: :class:`SyntheticOrgan` and the ten organs MetaMedSeg uses.

Seven source organs (:data:`SOURCE_ORGANS`) and three held-out target organs
(:data:`TARGET_ORGANS`, four target data sets like Table 7.1), each with its own shape family,
intensities, modalities and zones (:data:`SYNTHETIC_ORGANS`).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SOURCE_ORGANS", "SYNTHETIC_ORGANS", "TARGET_ORGANS", "SyntheticOrgan"]


@dataclass(frozen=True)
class SyntheticOrgan:
    """Recipe of one synthetic organ (the analogue of one Decathlon task).

    Args:
        name: organ name.
        family: shape family: ``"blob"``, ``"pair"``, ``"nested"``, ``"twin"``, ``"elongated"``,
            ``"tube"``, ``"vessels"`` or ``"crescent"``.
        labels: names of the label values ``1..n`` (zones/regions); each becomes a data set.
        modalities: ``(modality name, (body, label 1, ..., label n) intensities)`` pairs; each
            modality becomes a data set (the same volumes seen with other contrasts).
        size: typical organ radius as a fraction of the half image width.
        noise: standard deviation of the additive Gaussian noise.
        texture: amplitude of the smooth tissue texture.
        distractors: number of unlabelled structures with organ-like intensity per volume.
    """

    name: str
    family: str
    labels: tuple[str, ...]
    modalities: tuple[tuple[str, tuple[float, ...]], ...]
    size: float = 0.3
    noise: float = 0.08
    texture: float = 0.12
    distractors: int = 2

    def dataset_names(self) -> list[str]:
        """Names of the data sets this organ yields (one per modality and label)."""
        out = []
        for mod, _ in self.modalities:
            for lab in self.labels:
                parts = [self.name]
                if len(self.modalities) > 1:
                    parts.append(mod)
                if len(self.labels) > 1:
                    parts.append(lab)
                out.append("_".join(parts))
        return out


SYNTHETIC_ORGANS: dict[str, SyntheticOrgan] = {
    o.name: o
    for o in (
        # ---- source organs
        SyntheticOrgan(
            "brain", "nested", ("edema", "tumor"),
            (("flair", (0.45, 0.95, 0.7)), ("t1", (0.55, 0.4, 0.9))),
            size=0.38, distractors=1,
        ),
        SyntheticOrgan("hippocampus", "twin", ("anterior", "posterior"), (("t1", (0.35, 0.8, 0.65)),), size=0.22),
        SyntheticOrgan("liver", "blob", ("liver",), (("ct", (0.4, 0.75)),), size=0.45),
        SyntheticOrgan("lung", "pair", ("lung",), (("ct", (0.6, 0.1)),), size=0.36, distractors=1),
        SyntheticOrgan("pancreas", "elongated", ("pancreas",), (("ct", (0.45, 0.65)),), size=0.36, distractors=3),
        SyntheticOrgan("colon", "tube", ("colon",), (("ct", (0.45, 0.85)),), size=0.24),
        SyntheticOrgan("vessel", "vessels", ("vessel",), (("ct", (0.4, 0.9)),), size=0.1, distractors=1),
        # ---- target organs (held out)
        SyntheticOrgan("cardiac", "blob", ("atrium",), (("mri", (0.35, 0.85)),), size=0.32, distractors=2),
        SyntheticOrgan("spleen", "crescent", ("spleen",), (("ct", (0.45, 0.75)),), size=0.36),
        SyntheticOrgan(
            "prostate", "nested", ("peripheral", "transitional"), (("t2", (0.35, 0.8, 0.55)),),
            size=0.34, distractors=1,
        ),
    )
}
"""The synthetic organ recipes, by name."""

SOURCE_ORGANS: tuple[str, ...] = ("brain", "hippocampus", "liver", "lung", "pancreas", "colon", "vessel")
"""Organs used for meta-training / transfer pre-training (11 data sets)."""

TARGET_ORGANS: tuple[str, ...] = ("cardiac", "spleen", "prostate")
"""Held-out organs (4 data sets: cardiac, spleen, prostate_peripheral, prostate_transitional)."""
