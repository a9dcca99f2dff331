"""Train LeafNet with the hyperparameters from configs/."""

import hydra
import torch
import wandb
from loguru import logger
from omegaconf import DictConfig

from leaf_classifier.data import leaf_dataset
from leaf_classifier.model import LeafNet


@hydra.main(config_path="../../configs", config_name="config", version_base="1.3")
def train(cfg: DictConfig) -> None:
    """Train the model and save it to models/."""
    wandb.init(project="leaf-classifier", config=dict(cfg))
    model = LeafNet(dropout=cfg.model.dropout)
    loader = torch.utils.data.DataLoader(leaf_dataset("train"), batch_size=cfg.train.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    for epoch in range(cfg.train.epochs):
        for images, targets in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(images), targets)
            loss.backward()
            optimizer.step()
        logger.info(f"epoch {epoch}: loss {loss.item():.3f}")
        wandb.log({"loss": loss.item()})
    torch.save(model.state_dict(), "models/model.pt")


def evaluate(model, loader):
    correct = 0
    for images, targets in loader:
        correct += (model(images).argmax(dim=1) == targets).sum().item()
    return correct / len(loader.dataset)


if __name__ == "__main__":
    train()
