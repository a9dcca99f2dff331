"""Fixtures for the AI review: a fake model endpoint and its settings.

The fake GitHub's fixtures come from `tests.github.fixtures`, a plugin of the root conftest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from checks.profile import Profile, load_profile
from checks.snapshot import Snapshot
from github_app.review.cache import ReviewCache
from github_app.review.settings import ReviewSettings
from tests.conftest import RepoFiles
from tests.review.fake_llm import FakeLLM


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A fake OpenAI-compatible endpoint on 127.0.0.1 that records every request."""
    fake = FakeLLM().start()
    yield fake
    fake.stop()


@pytest.fixture
def review_settings(fake_llm: FakeLLM, tmp_path: Path) -> Callable[..., ReviewSettings]:
    """Review settings pointing at the fake endpoint; keyword arguments override."""

    def make(**overrides: Any) -> ReviewSettings:
        values: dict[str, Any] = {
            "base_url": fake_llm.base_url,
            "model": "test-model",
            "timeout": 5,
            "data_dir": tmp_path / "data",
        }
        return ReviewSettings(**{**values, **overrides})

    return make


@pytest.fixture
def review_cache(tmp_path: Path) -> ReviewCache:
    """An empty cache in this test's data folder."""
    return ReviewCache(tmp_path / "data" / "review.sqlite3")


@pytest.fixture
def profile() -> Profile:
    """The default profile, with its three judges."""
    return load_profile()


@pytest.fixture
def snapshot_of(make_repo: Callable[[RepoFiles], Path]) -> Callable[[RepoFiles], Snapshot]:
    """A snapshot of a repository built from {path: text or bytes}."""

    def make(files: RepoFiles) -> Snapshot:
        return Snapshot(make_repo(files))

    return make


@pytest.fixture
def project() -> RepoFiles:
    """A small group project laid out as the course's template does (a fresh copy)."""
    return dict(PROJECT)


PROJECT: RepoFiles = {
    "README.md": "# MNIST\n",
    "pyproject.toml": '[project]\nname = "mnist"\ndependencies = ["torch"]\n',
    "src/mnist/__init__.py": "",
    "src/mnist/model.py": (
        "import torch\n\n\nclass Net(torch.nn.Module):\n"
        '    """A small CNN."""\n\n    def forward(self, x):\n        return x\n'
    ),
    "src/mnist/data.py": "def load(path):\n    return open(path).read()\n",
    "tests/test_model.py": (
        "from mnist.model import Net\n\n\ndef test_forward():\n    assert Net() is not None\n"
    ),
    ".github/workflows/tests.yaml": (
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n      - run: pytest\n"
    ),
    "dockerfiles/train.dockerfile": "FROM python:3.11-slim\nCOPY src src\n",
    "configs/train.yaml": "lr: 0.001\nepochs: 10\n",
    "data/raw/train.csv": "label,pixels\n" + "3,0 0 0\n" * 50,
}
