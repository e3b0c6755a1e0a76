import pytest
import torch
from sklearn.metrics import roc_auc_score

from sgkit.data import from_triplets
from sgkit.models import anomaly_auroc, nll_auroc
from sgkit.viz import plot_nll_histograms
from sgkit.models.anomaly import nll_size_statistics, standardize_nll


def test_nll_auroc_hand_computed():
    # pairs (corrupted > clean): 3>1, 3>2, 1.5>1, 1.5<2 -> 3/4
    assert nll_auroc([1.0, 2.0], [3.0, 1.5]) == pytest.approx(0.75)
    assert nll_auroc(torch.tensor([1.0, 2.0]), torch.tensor([5.0, 6.0])) == 1.0
    assert nll_auroc([5.0], [1.0]) == 0.0
    assert nll_auroc([1.0, 2.0], [2.0]) == pytest.approx(0.75)  # ties count one half
    assert nll_auroc([0.3, 0.1, 0.7], [0.2, 0.9]) == pytest.approx(roc_auc_score([0, 0, 0, 1, 1], [0.3, 0.1, 0.7, 0.2, 0.9]))


def test_nll_auroc_errors():
    with pytest.raises(ValueError, match="clean_nll: empty"):
        nll_auroc([], [1.0])
    with pytest.raises(ValueError, match="corrupted_nll: contains non-finite"):
        nll_auroc([1.0], [float("inf")])


class _SizeModel:
    """Scores a graph by its number of nodes (a stand-in with the model interface)."""

    def nll(self, graphs, **kwargs):
        self.kwargs = kwargs
        return torch.tensor([float(g["object"].label.numel()) for g in graphs])


def test_anomaly_auroc_uses_model_nll():
    clean = [from_triplets([0], []), from_triplets([0, 1], [])]
    bad = [from_triplets([0, 1, 2], []), from_triplets([0] * 4, [])]
    model = _SizeModel()
    auc, a, b = anomaly_auroc(model, clean, bad, ordering="random", seed=3)
    assert auc == 1.0 and a.tolist() == [1.0, 2.0] and b.tolist() == [3.0, 4.0]
    assert model.kwargs == {"ordering": "random", "seed": 3}
    # per-node normalisation: every score becomes 1.0 -> no separation
    auc, a, b = anomaly_auroc(model, clean, bad, normalize="nodes")
    assert auc == 0.5 and a.tolist() == [1.0, 1.0] and b.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="normalize: expected None, 'nodes' or 'size', got 'edges'"):
        anomaly_auroc(model, clean, bad, normalize="edges")


class _SampleModel:
    """NLL = sum of the node labels; ``sample`` returns five fixed graphs (sizes 2, 2, 4, 4, 4)."""

    max_nodes = 5

    def sample(self, n, generator=None):
        self.n = n
        return [from_triplets(lab, []) for lab in ([0, 1], [1, 2], [1, 2, 3, 4], [2, 3, 4, 5], [3, 3, 3, 3])]

    def nll(self, graphs, **kwargs):
        self.kwargs = kwargs
        return torch.tensor([float(g["object"].label.sum()) for g in graphs])


def test_nll_size_statistics_hand_computed():
    model = _SampleModel()
    mu, sd = nll_size_statistics(model, num_samples=5, sample_seed=1, ordering="identity")
    assert model.n == 5 and model.kwargs == {"ordering": "identity"}
    # size 2: NLLs 1, 3 -> mean 2, std sqrt(2); size 4: 10, 14, 12 -> mean 12, std 2;
    # sizes 0, 1 take size 2's values, size 3 (tie between 2 and 4) the smaller, size 5 size 4's
    assert mu.tolist() == pytest.approx([2, 2, 2, 2, 12, 12])
    assert sd.tolist() == pytest.approx([2**0.5] * 4 + [2, 2])
    z = standardize_nll(torch.tensor([4.0, 16.0, 12.0]), torch.tensor([2, 4, 9]), mu, sd)
    assert z.tolist() == pytest.approx([2 / 2**0.5, 2.0, 0.0])  # size 9 uses the last entry
    with pytest.raises(ValueError, match="sizes: expected 3 sizes"):
        standardize_nll(torch.zeros(3), torch.tensor([2, 4]), mu, sd)
    with pytest.raises(ValueError, match="num_samples: expected an integer >= 2, got 1"):
        nll_size_statistics(model, num_samples=1)
    clean = [from_triplets([0, 1], []), from_triplets([1, 2, 3, 4], [])]  # z = -1/sqrt(2), -1
    bad = [from_triplets([2, 3], []), from_triplets([3, 3, 3, 3], [])]  # z = 3/sqrt(2), 0
    auc, a, b = anomaly_auroc(model, clean, bad, normalize="size", num_samples=5, seed=4)
    assert model.kwargs == {"seed": 4}
    assert a.tolist() == pytest.approx([-(2**-0.5), -1.0]) and b.tolist() == pytest.approx([1.5 * 2**0.5, 0.0])
    assert auc == 1.0


def test_plot_nll_histograms(tmp_path):
    path = plot_nll_histograms(
        {"clean": torch.randn(50), "0.5": torch.randn(50) + 3}, tmp_path / "nll.png", auroc={"0.5": 0.97}
    )
    assert (tmp_path / "nll.png").stat().st_size > 1000 and path.endswith("nll.png")
