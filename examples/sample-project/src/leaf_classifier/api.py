"""Serve predictions over HTTP."""

import torch
from fastapi import FastAPI, UploadFile

from leaf_classifier.model import LeafNet

app = FastAPI(title="Leaf classifier")
model = LeafNet()


@app.get("/")
def root() -> dict[str, str]:
    """Health check."""
    return {"status": "ok"}


@app.post("/predict")
async def predict(file: UploadFile) -> dict[str, int]:
    """Classify one uploaded image tensor."""
    image = torch.load(file.file)
    return {"class": int(model(image.unsqueeze(0)).argmax())}
