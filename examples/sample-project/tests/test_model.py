import pytest
import torch

from leaf_classifier.model import LeafNet


def test_output_shape():
    model = LeafNet(classes=38)
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 38)


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match="Expected a batch"):
        LeafNet()(torch.randn(3, 64, 64))


def test_training_step_runs():
    model = LeafNet()
    loss = model(torch.randn(4, 3, 64, 64)).sum()
    loss.backward()
