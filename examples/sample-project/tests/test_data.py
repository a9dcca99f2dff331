import torch

from leaf_classifier.data import normalize


def test_normalize_has_unit_variance():
    images = torch.rand(8, 3, 16, 16) * 255
    out = normalize(images)
    assert torch.isclose(out.std(), torch.tensor(1.0), atol=1e-4)
