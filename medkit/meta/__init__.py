"""MetaMedSeg: few-shot segmentation by Reptile meta-learning over organ tasks (thesis ch. 7).

- :mod:`medkit.meta.tasks`: volumetric and standard task definitions, weighted data-set sampling;
- :mod:`medkit.meta.reptile`: the AW / IDW weighted Reptile update and meta-trainer (weights and
  update from :mod:`fedkit.aggregation`);
- :mod:`medkit.meta.finetune`: fine-tuning on ``K'`` target shots, few-shot IoU over several shot
  selections, and the transfer-learning baseline.
"""
from medkit.meta.finetune import (
    default_loss,
    evaluate_iou,
    few_shot_iou,
    fine_tune,
    pretrain,
)
from medkit.meta.reptile import REPTILE_RULES, Reptile, reptile_update, reptile_weights
from medkit.meta.tasks import (
    TASK_MODES,
    Task,
    TaskSampler,
    organ_weights,
    volumetric_indices,
    volumetric_step,
)

__all__ = [
    "TASK_MODES",
    "Task",
    "TaskSampler",
    "organ_weights",
    "volumetric_indices",
    "volumetric_step",
    "REPTILE_RULES",
    "Reptile",
    "reptile_update",
    "reptile_weights",
    "default_loss",
    "evaluate_iou",
    "few_shot_iou",
    "fine_tune",
    "pretrain",
]
