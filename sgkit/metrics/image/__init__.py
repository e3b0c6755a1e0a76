"""Image-quality metrics for generated images, one metric family per module.

* :mod:`.pixel`: MAE and SSIM against reference images;
* :mod:`.lpips`: LPIPS perceptual distance (local weights);
* :mod:`.fid`, :mod:`.kid`: Fréchet and Kernel Inception Distances;
* :mod:`.prd`: precision and recall for distributions (Sajjadi et al. 2018), the thesis'
  "precision" :math:`F_{1/8}` and "recall" :math:`F_8`;
* :mod:`.improved_precision_recall`: the k-NN precision and recall of Kynkäänniemi et al. (2019)
  (``precision_recall`` is its deprecated name);
* :mod:`.inception_score`: Inception Score from the class probabilities of a given classifier;
* :mod:`.inception`: the Inception-v3 network (features, class logits) from local weights only;
* :mod:`.image_metrics`: the stateful :class:`ImageMetrics` accumulator.

Pure functions on tensors, then a thin stateful class. Nothing here downloads weights: LPIPS and
the Inception networks need local weight files and raise a clear error without them;
FID / KID / PRD / precision-recall accept features from any extractor you pass in.
"""
from .fid import fid, fid_from_features, frechet_distance
from .image_metrics import ImageMetrics
from .improved_precision_recall import improved_precision_recall, precision_recall
from .inception import InceptionClassifier, InceptionFeatures, extract_features
from .inception_score import inception_score, inception_score_from_probs
from .kid import kid, kid_from_features
from .lpips import LPIPS
from .pixel import mae, ssim
from .prd import PRDResult, prd, prd_curve, prd_f_beta

__all__ = [
    "ImageMetrics",
    "InceptionClassifier",
    "InceptionFeatures",
    "LPIPS",
    "PRDResult",
    "extract_features",
    "fid",
    "fid_from_features",
    "frechet_distance",
    "improved_precision_recall",
    "inception_score",
    "inception_score_from_probs",
    "kid",
    "kid_from_features",
    "mae",
    "prd",
    "prd_curve",
    "prd_f_beta",
    "precision_recall",
    "ssim",
]
