"""Container criteria: docker and dockerfile-lint — what a student sees."""

from __future__ import annotations

from collections.abc import Callable

from checks import CriterionResult, Level, Status
from checks.criteria.containers import parse_dockerfile
from checks.snapshot import DEFAULT_READ_CAP

Run = Callable[..., CriterionResult]

CLEAN = """\
FROM python:3.11-slim AS base

WORKDIR /app
COPY requirements.txt pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN pip install . --no-deps --no-cache-dir
ENTRYPOINT ["python", "-u", "src/mnist/train.py"]
"""


def where(result: CriterionResult) -> list[tuple[str, int, int, str]]:
    return [(a.path, a.start_line, a.end_line, a.title) for a in result.annotations]


# -- docker ---------------------------------------------------------------------------------


def test_docker_template_dockerfiles(run_criterion: Run) -> None:
    result = run_criterion(
        "docker",
        {"dockerfiles/train.dockerfile": CLEAN, "dockerfiles/api.dockerfile": CLEAN},
    )
    assert result.status == Status.passed
    assert result.summary == (
        "2 Dockerfiles: dockerfiles/api.dockerfile, dockerfiles/train.dockerfile."
    )
    assert result.metrics == {
        "count": 2,
        "files": ["dockerfiles/api.dockerfile", "dockerfiles/train.dockerfile"],
    }


def test_docker_names_are_case_insensitive(run_criterion: Run) -> None:
    result = run_criterion(
        "docker",
        {
            "Dockerfile": CLEAN,
            "docker/Dockerfile.API": CLEAN,
            "serve.DockerFile": CLEAN,
            "dockerfiles/train": "# syntax=docker/dockerfile:1\nARG V=3.11\nFROM python:$V\n",
            "dockerfiles/entrypoint": "#!/bin/sh\nexec python train.py\n",
            ".dockerignore": "data/\n",
            "Dockerfile.dockerignore": "data/\n",
            "docs/dockerfile.md": "# notes\n",
        },
    )
    assert result.metrics["files"] == [
        "Dockerfile",
        "docker/Dockerfile.API",
        "dockerfiles/train",
        "serve.DockerFile",
    ]


def test_docker_missing_or_too_few(run_criterion: Run) -> None:
    result = run_criterion("docker", {"README.md": "no containers"})
    assert result.status == Status.warn
    assert result.summary == "No Dockerfile found."
    assert result.fix.startswith("Add a Dockerfile")
    result = run_criterion("docker", {"Dockerfile": CLEAN}, thresholds={"min": 2})
    assert result.status == Status.warn
    assert result.summary.startswith("1 Dockerfile (Dockerfile); the course expects at least 2")
    assert run_criterion("docker", {}).status == Status.warn


# -- parsing --------------------------------------------------------------------------------


def test_parse_dockerfile_continuations_comments_and_heredocs() -> None:
    text = (
        "# escape=\\\n"
        "FROM python:3.11\n"
        "RUN apt-get update \\\n"
        "    # a comment inside the command\n"
        "\n"
        "    && pip install torch\n"
        "RUN <<EOF\n"
        "pip install numpy\n"
        "FROM not-an-instruction\n"
        "EOF\n"
        "copy . .\n"
    )
    instructions = parse_dockerfile(text)
    assert [(i.keyword, i.start, i.end) for i in instructions] == [
        ("FROM", 2, 2),
        ("RUN", 3, 6),
        ("RUN", 7, 10),
        ("COPY", 11, 11),
    ]
    assert instructions[1].args == "apt-get update && pip install torch"
    assert "pip install numpy" in instructions[2].args


def test_parse_dockerfile_backtick_escape_and_crlf() -> None:
    text = "# escape=`\r\nFROM mcr.microsoft.com/windows:ltsc2022\r\nRUN a `\r\n  b\r\n"
    instructions = parse_dockerfile(text)
    assert [(i.keyword, i.start, i.end, i.args) for i in instructions] == [
        ("FROM", 2, 2, "mcr.microsoft.com/windows:ltsc2022"),
        ("RUN", 3, 4, "a b"),
    ]


# -- dockerfile-lint ------------------------------------------------------------------------


def test_dockerfile_lint_clean(run_criterion: Run) -> None:
    result = run_criterion("dockerfile-lint", {"dockerfiles/train.dockerfile": CLEAN})
    assert result.status == Status.passed
    assert result.summary.startswith("No problems in 1 Dockerfile: pinned base images")
    assert result.annotations == []


def test_dockerfile_lint_findings_on_exact_lines(run_criterion: Run) -> None:
    text = (
        "FROM python\n"  # 1: no tag
        "WORKDIR /app\n"
        "COPY . .\n"  # 3: whole tree before the install
        "RUN apt-get update && \\\n"  # 4-6: pip without --no-cache-dir
        "    pip install --upgrade pip && \\\n"
        "    pip install -r requirements.txt --no-cache-dir\n"
        "FROM ubuntu:latest AS final\n"  # 7: latest
    )
    result = run_criterion("dockerfile-lint", {"Dockerfile": text})
    assert result.status == Status.warn
    assert where(result) == [
        ("Dockerfile", 1, 1, "Unpinned base image"),
        ("Dockerfile", 3, 3, "Whole project copied before installing dependencies"),
        ("Dockerfile", 4, 6, "pip keeps its download cache in the image"),
        ("Dockerfile", 7, 7, "Unpinned base image"),
    ]
    assert all(a.level == Level.warning for a in result.annotations)
    first, copy, pip, last = result.annotations
    assert first.message.startswith("`FROM python` has no tag, so it means `:latest`")
    assert "Pin the base image, e.g. `python:3.11-slim`." in first.message
    assert "(line 4)" in copy.message
    assert "--no-cache-dir" in pip.message
    assert "`ubuntu:<version>`" in last.message
    assert result.summary == (
        "4 problems in 1 Dockerfile: 2 unpinned base images, 1 RUN with `pip install` but no "
        "`--no-cache-dir`, 1 whole-project copy before installing dependencies."
    )
    assert result.metrics == {
        "files": 1,
        "findings": 4,
        "unpinned_base": 2,
        "pip_cache": 1,
        "copy_before_install": 1,
    }


def test_dockerfile_lint_what_is_not_a_problem(run_criterion: Run) -> None:
    text = (
        "ARG PYTHON=3.12\n"
        "ARG BASE\n"
        "FROM --platform=$BUILDPLATFORM python:${PYTHON}-slim AS builder\n"
        "ENV PIP_NO_CACHE_DIR=1\n"
        "RUN pip install -r requirements.txt\n"
        "FROM ghcr.io/astral-sh/uv:0.4.0@sha256:0123456789abcdef AS uv\n"
        "FROM ${BASE}\n"  # unknown at lint time: not judged
        "FROM localhost:5000/team/base:2024.1\n"
        "FROM scratch AS empty\n"
        "FROM builder\n"
        "COPY --from=builder . .\n"
        "RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt\n"
        "RUN uv pip install --system torch && uv sync --frozen\n"
        "COPY . .\n"
        "CMD python -m mnist.train\n"
    )
    result = run_criterion("dockerfile-lint", {"Dockerfile": text})
    assert result.status == Status.passed, where(result)


def test_dockerfile_lint_latest_via_arg_and_stage_names(run_criterion: Run) -> None:
    text = (
        "ARG TAG=latest\n"
        "FROM pytorch/pytorch:${TAG} AS Train\n"
        "FROM train\n"
        "RUN python3 -m pip install torch\n"
    )
    result = run_criterion("dockerfile-lint", {"Dockerfile": text})
    assert where(result) == [
        ("Dockerfile", 2, 2, "Unpinned base image"),
        ("Dockerfile", 4, 4, "pip keeps its download cache in the image"),
    ]
    assert "`pytorch/pytorch:<version>`" in result.annotations[0].message


def test_dockerfile_lint_heredoc_and_json_copy(run_criterion: Run) -> None:
    text = (
        "FROM python:3.11-slim\n"
        'COPY [".", "/app"]\n'
        "RUN <<EOF\n"
        "set -e\n"
        "pip install -r /app/requirements.txt\n"
        "EOF\n"
    )
    result = run_criterion("dockerfile-lint", {"api.dockerfile": text})
    assert where(result) == [
        ("api.dockerfile", 2, 2, "Whole project copied before installing dependencies"),
        ("api.dockerfile", 3, 6, "pip keeps its download cache in the image"),
    ]


def test_dockerfile_lint_caps_annotations(run_criterion: Run) -> None:
    text = "".join(f"FROM image{i}\n" for i in range(60))
    result = run_criterion("dockerfile-lint", {"Dockerfile": text})
    assert len(result.annotations) == 50
    assert result.summary == (
        "60 problems in 1 Dockerfile: 60 unpinned base images; the first 50 are marked."
    )


def test_dockerfile_lint_skipped_without_dockerfiles(run_criterion: Run) -> None:
    result = run_criterion("dockerfile-lint", {"src/app.py": ""})
    assert result.status == Status.skip
    assert "docker" in result.summary


def test_dockerfile_lint_unreadable_files(run_criterion: Run) -> None:
    result = run_criterion(
        "dockerfile-lint",
        {
            "Dockerfile": b"FROM python\x00\xff\xfe",
            "big.dockerfile": "FROM python:3.11\n" + "# padding\n" * (DEFAULT_READ_CAP // 10),
            "ok.dockerfile": "FROM python:3.11-slim\nRUN pip install --no-cache-dir x\n",
        },
    )
    assert result.status == Status.passed
    assert result.summary == (
        "No problems in 1 Dockerfile: pinned base images, no pip cache left in the image, "
        "dependencies installed before the code is copied (Dockerfile, big.dockerfile could "
        "not be read: binary or too large)."
    )


def test_dockerfile_lint_empty_and_odd_files(run_criterion: Run) -> None:
    result = run_criterion(
        "dockerfile-lint",
        {"Dockerfile": "", "a.dockerfile": "FROM\nRUN \\\n", "b.dockerfile": 'COPY [".", \n'},
    )
    assert result.status == Status.passed
