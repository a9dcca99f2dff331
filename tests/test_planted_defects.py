"""Defects planted at known lines of a group repository reach the check run on their lines."""

from __future__ import annotations

import json
from pathlib import Path

from checks import evaluate, load_profile
from github_app.checkrun import CheckAnnotation, Completion
from tests.conftest import write_files

TOKEN = "ghp_" + "1234567890abcdefghijklmnopqrstuvwxyzAB"
REPORT_LINES = ["# Exam report", ""]
for number in range(1, 32):
    answer = " ".join(f"w{i}" for i in range(130 if number == 7 else 150))
    REPORT_LINES += [f"### Question {number}", "> **?**", ">", "> Answer:", "", answer, ""]
NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Explore\n"]},
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": 1,
            "outputs": [],
            "source": ["import os\n", f'key = "{TOKEN}"\n'],
        },
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}
FILES: dict[str, str | bytes] = {
    "README.md": "# proj\n",
    ".gitignore": "__pycache__/\n",
    "pyproject.toml": '[project]\nname = "proj"\nversion = "0.1"\ndependencies = [\n  "torch",\n',
    # A cp1252 ellipsis (NEL once read as latin-1) on line 1 must not shift later lines.
    "requirements.txt": "# numpy \x85 torch\nnumpy==1.26.4\ntorch\n".encode("latin-1"),
    "src/proj/__init__.py": "",
    "src/proj/train.py": f'import os\nimport sys\n\nKEY = "{TOKEN}"\nprint(os)\n',
    "notebooks/explore.ipynb": json.dumps(NOTEBOOK, indent=1),
    "tests/test_model.py": "from proj import train\n\n\ndef test_train():\n    train.main()\n",
    # A form feed on line 1 must not shift later lines either.
    "dockerfiles/train.dockerfile": "# image\x0c\nFROM python:latest\nRUN pip install -r r.txt\n",
    ".github/workflows/ci.yml": "name: ci\non: [push]\njobs:\n  build:\n    runs-on: x\n"
    "    steps:\n      - run: echo hi\n",
    ".github/workflows/broken.yml": "name: b\non: [push]\njobs:\n  t:\n    runs-on: x\n"
    "    steps:\n      - run: a\n     - run: b\n",
    ".env": f"GITHUB_TOKEN={TOKEN}\n",
    "configs/train.yaml": "lr: 0.1\n  bad: [\n",
    "reports/README.md": "\n".join(REPORT_LINES) + "\n",
}
# (criterion, path, line) of every planted defect.
PLANTED = {
    ("secrets", "src/proj/train.py", 4),
    ("secrets", "notebooks/explore.ipynb", 17),
    ("secrets", ".env", 1),
    ("hygiene", ".env", 1),
    ("lint", "src/proj/train.py", 2),
    ("test-quality", "tests/test_model.py", 4),
    ("dockerfile-lint", "dockerfiles/train.dockerfile", 2),
    ("dockerfile-lint", "dockerfiles/train.dockerfile", 3),
    ("ci-tests", ".github/workflows/ci.yml", 4),
    ("ci-lint", ".github/workflows/ci.yml", 4),
    ("workflow-syntax", ".github/workflows/broken.yml", 8),
    ("dependencies", "pyproject.toml", 5),
    ("configs", "configs/train.yaml", 2),
    ("report", "reports/README.md", 50),
}


def posted(completion: Completion) -> list[dict[str, object]]:
    """Every annotation of every request the app sends for `completion`."""
    return [
        annotation
        for body in completion.requests()
        for annotation in body["output"].get("annotations", [])
    ]


def test_every_planted_defect_is_annotated_on_its_line(tmp_path: Path) -> None:
    report = evaluate(write_files(tmp_path, FILES), load_profile()).for_students()
    found = {(r.id, a.path, a.start_line) for r in report.results for a in r.annotations}
    assert found >= PLANTED, sorted(PLANTED - found)
    # The lines are the file's own: a secret's line holds the secret, and so on.
    text = (tmp_path / "src/proj/train.py").read_text().split("\n")
    assert TOKEN in text[4 - 1]
    assert REPORT_LINES[50 - 1].startswith("w0 ")


def test_every_annotation_reaches_github_on_its_line(tmp_path: Path) -> None:
    # Enough unused imports for several requests of 50 annotations.
    files = {**FILES, "src/proj/many.py": "".join(f"import mod{i}\n" for i in range(120))}
    report = evaluate(write_files(tmp_path, files), load_profile()).for_students()
    annotations = [CheckAnnotation.of(a) for a in report.annotations()]
    assert len(annotations) > 2 * 50
    completion = Completion(
        conclusion=report.conclusion.value, title="t", summary="s", annotations=annotations
    )
    sent = posted(completion)
    assert all(len(body["output"].get("annotations", [])) <= 50 for body in completion.requests())
    expected = [(a.path, a.start_line, a.end_line) for a in report.annotations()]
    assert [(a["path"], a["start_line"], a["end_line"]) for a in sent] == expected
