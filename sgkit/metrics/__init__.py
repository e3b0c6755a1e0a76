"""Metrics for generated scene graphs (kernel MMD, graph-statistics MMD, data-set statistics) and images."""
from .dataset_stats import (
    cooccurrence,
    instance_count_distribution,
    instance_count_kl,
    object_occurrence,
    plot_cooccurrence,
    plot_instance_count_kl,
    plot_object_occurrence,
    plot_relationship_occurrence,
    relationship_occurrence,
)
from .graph_stats import (
    clustering_histograms,
    clustering_mmd,
    degree_histograms,
    degree_mmd,
    gaussian_emd_kernel,
    gaussian_tv_kernel,
    histogram_mmd,
    spectral_histograms,
    spectral_mmd,
    to_undirected_simple,
)
from .mmd import MMD, check_same_vocabulary, mmd, mmd_from_gram, mmd_from_sums
from .object_check import category_colours, evaluate_generation, object_check

__all__ = [
    "MMD",
    "category_colours",
    "check_same_vocabulary",
    "evaluate_generation",
    "object_check",
    "clustering_histograms",
    "clustering_mmd",
    "cooccurrence",
    "degree_histograms",
    "degree_mmd",
    "gaussian_emd_kernel",
    "gaussian_tv_kernel",
    "histogram_mmd",
    "instance_count_distribution",
    "instance_count_kl",
    "mmd",
    "mmd_from_gram",
    "mmd_from_sums",
    "object_occurrence",
    "plot_cooccurrence",
    "plot_instance_count_kl",
    "plot_object_occurrence",
    "plot_relationship_occurrence",
    "relationship_occurrence",
    "spectral_histograms",
    "spectral_mmd",
    "to_undirected_simple",
]

# image-quality metrics (sgkit.metrics.image)
from .image import (  # noqa: E402
    LPIPS,
    ImageMetrics,
    InceptionClassifier,
    InceptionFeatures,
    PRDResult,
    extract_features,
    fid,
    fid_from_features,
    frechet_distance,
    improved_precision_recall,
    inception_score,
    inception_score_from_probs,
    kid,
    kid_from_features,
    mae,
    prd,
    prd_curve,
    prd_f_beta,
    precision_recall,
    ssim,
)

__all__ += [
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

# image-manipulation metrics (SIMSG evaluation protocol)
from .edits import edit_roi_boxes, evaluate_edits, gaussian_ssim, quantize  # noqa: E402

__all__ += ["edit_roi_boxes", "evaluate_edits", "gaussian_ssim", "quantize"]
