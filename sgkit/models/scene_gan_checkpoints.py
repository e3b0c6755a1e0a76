"""Checkpoints of the scene-graph-to-image GANs in the one format of :mod:`sgkit.models.checkpoint`.

:class:`SceneGANCheckpoints` is a mixin of :class:`~sgkit.models.scene_gan.SceneGAN`: ``save``
writes config, vocabulary, weights, optimiser states (optional), history and the model's own
plain data (``checkpoint_extra``); ``load`` rebuilds the model of the checkpoint's class.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Mapping

import torch

from sgkit.models.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["SceneGANCheckpoints"]


class SceneGANCheckpoints:
    """``save`` / ``load`` of a :class:`~sgkit.models.scene_gan.SceneGAN`."""

    def checkpoint_extra(self) -> dict[str, Any]:
        """Model-specific plain data stored in checkpoints (restored by :meth:`load_extra`)."""
        return {}

    def load_extra(self, extra: Mapping[str, Any]) -> None:
        """Restore what :meth:`checkpoint_extra` stored."""

    def save(self, path: str | os.PathLike, *, include_optimizers: bool = False) -> str:
        """Write a checkpoint (:mod:`sgkit.models.checkpoint`: atomic, never non-finite)."""
        vocab = self.vocab.to_dict() if self.vocab is not None and hasattr(self.vocab, "to_dict") else None
        opts = ({k: o.state_dict() for k, o in self._optimizers.items()}
                if include_optimizers and self._optimizers is not None else None)
        return save_checkpoint(path, model=type(self).__name__, config=self.config.to_dict(),
                               state_dict=self.state_dict(), vocab=vocab, optimizers=opts,
                               history=self.history, extra=self.checkpoint_extra())

    @classmethod
    def load(cls, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
        """Load a checkpoint written by :meth:`save` (``torch.load(..., weights_only=True)``)."""
        ckpt = load_checkpoint(path, model=cls.__name__, map_location=map_location)
        vocab = None
        if ckpt["vocab"] is not None:
            from sgkit.data import Vocabulary

            vocab = Vocabulary.from_dict(ckpt["vocab"])
        config = cls.config_class.from_dict(ckpt["config"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the perceptual-loss notice is irrelevant here
            model = cls(config, vocab=vocab)
        model.load_state_dict(ckpt["state_dict"])
        model.history = [dict(h) for h in ckpt["history"]]
        model.load_extra(ckpt["extra"])
        if ckpt["optimizers"]:
            opts = model.configure_optimizers()
            for k, state in ckpt["optimizers"].items():
                opts[k].load_state_dict(state)
        return model
