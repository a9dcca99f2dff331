"""Download and preprocess the PlantVillage leaf images."""

from pathlib import Path

import torch
import typer
from loguru import logger

RAW = Path("data/raw")
PROCESSED = Path("data/processed")


def normalize(images: torch.Tensor) -> torch.Tensor:
    """Scale every image to zero mean and unit variance."""
    return (images - images.mean()) / images.std()


def preprocess(raw_dir: Path = RAW, processed_dir: Path = PROCESSED) -> None:
    """Turn the raw image folders into one tensor file per split."""
    logger.info(f"Preprocessing {raw_dir} into {processed_dir}")
    for split in ("train", "test"):
        images = torch.load(raw_dir / f"{split}_images.pt")
        targets = torch.load(raw_dir / f"{split}_target.pt")
        torch.save(normalize(images), processed_dir / f"{split}_images.pt")
        torch.save(targets, processed_dir / f"{split}_target.pt")


def leaf_dataset(split, processed_dir=PROCESSED):
    images = torch.load(processed_dir / f"{split}_images.pt")
    targets = torch.load(processed_dir / f"{split}_target.pt")
    return torch.utils.data.TensorDataset(images, targets)


if __name__ == "__main__":
    typer.run(preprocess)
