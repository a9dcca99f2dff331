"""`secrets`: committed credentials are failures at their exact lines, and never printed.

Every credential here is generated at test time from a seeded generator, so no string in
this file has the shape of a real one.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import os
import pkgutil
import random
import string
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from checks import (
    CriterionResult,
    Level,
    Report,
    Severity,
    Snapshot,
    Status,
    evaluate,
    load_profile,
)
from checks.criteria.secrets import SecretFinding, redact, secret_findings

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
_rng = random.Random(2476)


def _random(length: int, alphabet: str = ALNUM) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(length))


GITHUB = "ghp_" + _random(36)
GITHUB_FINE = "github_pat_" + _random(22) + "_" + _random(59)
HUGGING_FACE = "hf_" + _random(34, string.ascii_letters)
OPENAI = "sk-proj-" + _random(120, ALNUM + "_-")
GOOGLE = "AIza" + _random(35, ALNUM + "_-")
WANDB = _random(40, HEX)
AWS_ID = "AKIA" + _random(16, string.ascii_uppercase + string.digits)
AWS_SECRET = _random(40, ALNUM + "/+")
PASSWORD = _random(14, ALNUM + "!#&")
KEY_BODY = base64.b64encode(_rng.randbytes(1190)).decode()


def pem(label: str = "RSA ") -> str:
    lines = [KEY_BODY[i : i + 64] for i in range(0, len(KEY_BODY), 64)]
    return "\n".join(
        [f"-----BEGIN {label}PRIVATE KEY-----", *lines, f"-----END {label}PRIVATE KEY-----"]
    )


ALL_SECRETS = (
    GITHUB,
    GITHUB_FINE,
    HUGGING_FACE,
    OPENAI,
    GOOGLE,
    WANDB,
    AWS_ID,
    AWS_SECRET,
    PASSWORD,
    KEY_BODY,
)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def leaked(text: str, secret: str) -> str | None:
    """A piece of `secret` that shows in `text`: any 8 characters past a public prefix."""
    start = next(
        (len(p) for p in ("github_pat_", "sk-proj-", "ghp_", "AKIA") if secret.startswith(p)), 4
    )
    for i in range(start, len(secret) - 7):
        if secret[i : i + 8] in text:
            return secret[i : i + 8]
    return None


def assert_hidden(text: str) -> None:
    for secret in ALL_SECRETS:
        assert leaked(text, secret) is None, f"a piece of {secret[:4]}… is in the output"


# -- what a student sees ----------------------------------------------------------------------


def test_a_repository_without_credentials_passes(run_criterion: Callable[..., CriterionResult]):
    result = run_criterion(
        "secrets",
        {
            "src/pkg/train.py": 'import os\n\nTOKEN = os.environ["HF_TOKEN"]\n',
            "README.md": "# Leaf classifier\n",
            "data/leaf.png": b"\x89PNG\r\n\x1a\n" + GITHUB.encode(),  # images are not read
        },
    )
    assert result.status == Status.passed
    assert result.summary == "No credentials found in 2 scanned files."
    assert result.annotations == []
    assert result.metrics["findings"] == 0


def test_an_empty_repository_passes(run_criterion: Callable[..., CriterionResult]):
    result = run_criterion("secrets", {})
    assert result.status == Status.passed
    assert result.summary == "No credentials found in 0 scanned files."


def test_a_github_token_fails_the_check_at_its_line(run_criterion: Callable[..., CriterionResult]):
    code = f'import requests\n\nHEADERS = {{"Authorization": "token {GITHUB}"}}\n'
    result = run_criterion("secrets", {"src/pkg/api.py": code})

    assert result.status == Status.fail
    assert result.severity == Severity.required
    assert result.summary == (
        "Found 1 committed credential: GitHub token in src/pkg/api.py:3. Revoke it now."
    )
    [note] = result.annotations
    assert (note.path, note.start_line, note.end_line) == ("src/pkg/api.py", 3, 3)
    assert note.level == Level.failure
    assert note.rank == 0
    assert note.title == "Committed GitHub token: ghp_… (40 characters)"
    for advice in (
        "git history",
        "https://github.com/settings/tokens",
        "`.env` file listed in `.gitignore`",
        "${{ secrets.NAME }}",
        "Secret Manager",
    ):
        assert advice in note.message
    assert "revoke" in result.fix.lower()
    assert_hidden(result.model_dump_json())


@pytest.mark.parametrize(
    ("path", "text", "secret", "kind", "name"),
    [
        (".env", f"WANDB_API_KEY={WANDB}\n", WANDB, "W&B API key", "WANDB_API_KEY"),
        (
            "src/pkg/train.py",
            f'import wandb\n\nwandb.login(anonymous="never", key="{WANDB}")\n',
            WANDB,
            "W&B API key",
            "wandb.login",
        ),
        (
            "notebooks/explore.ipynb",
            json.dumps(
                {
                    "cells": [
                        {"source": ["import os\n", f'os.environ["WANDB_API_KEY"] = "{WANDB}"\n']}
                    ]
                },
                indent=1,
            ),
            WANDB,
            "W&B API key",
            "WANDB_API_KEY",
        ),
        (
            "notebooks/train.ipynb",
            json.dumps({"cells": [{"source": [f"%env WANDB_API_KEY={WANDB}\n"]}]}, indent=1),
            WANDB,
            "W&B API key",
            "WANDB_API_KEY",
        ),
        (
            "src/pkg/setup_env.py",
            f'import os\n\nos.environ.setdefault("WANDB_API_KEY", "{WANDB}")\n',
            WANDB,
            "W&B API key",
            "WANDB_API_KEY",
        ),
        (
            "aws/credentials",
            f"[default]\naws_access_key_id = {AWS_ID}\naws_secret_access_key = {AWS_SECRET}\n",
            AWS_SECRET,
            "AWS secret access key",
            "aws_secret_access_key",
        ),
        ("deploy.sh", f"export AWS_ACCESS_KEY_ID={AWS_ID}\n", AWS_ID, "AWS access key", ""),
        (
            "configs/hub.yaml",
            f"hub:\n  hf_token: {HUGGING_FACE}\n",
            HUGGING_FACE,
            "Hugging Face token",
            "hf_token",
        ),
        (
            "src/pkg/chat.py",
            f'from openai import OpenAI\n\nclient = OpenAI(api_key="{OPENAI}")\n',
            OPENAI,
            "OpenAI-style API key",
            "api_key",
        ),
        ("src/pkg/maps.py", f'GEMINI = "{GOOGLE}"\n', GOOGLE, "Google API key", ""),
        (
            ".github/workflows/release.yaml",
            f"env:\n  GH_TOKEN: {GITHUB_FINE}\n",
            GITHUB_FINE,
            "GitHub token",
            "GH_TOKEN",
        ),
        (
            "configs/db.yaml",
            f"database:\n  host: db\n  password: {PASSWORD}\n",
            PASSWORD,
            "password",
            "password",
        ),
        (
            "src/pkg/settings.py",
            f'SECRET_KEY = "django-insecure-{AWS_SECRET[:30]}"\n',
            AWS_SECRET[:30],
            "secret",
            "SECRET_KEY",
        ),
    ],
    ids=[
        "wandb-env",
        "wandb-login",
        "wandb-notebook",
        "wandb-notebook-env",
        "wandb-setdefault",
        "aws-secret-key",
        "aws-key-id",
        "hugging-face-yaml",
        "openai",
        "google",
        "github-fine-grained",
        "password-yaml",
        "django-secret-key",
    ],
)
def test_each_kind_of_credential_is_named_at_its_line(
    run_criterion: Callable[..., CriterionResult],
    path: str,
    text: str,
    secret: str,
    kind: str,
    name: str,
):
    result = run_criterion("secrets", {path: text})
    assert result.status == Status.fail
    finding = [a for a in result.annotations if kind in a.title]
    assert len(finding) == 1, [a.title for a in result.annotations]
    assert finding[0].path == path
    assert finding[0].start_line == line_of(text, secret)
    if name:
        assert f"assigned to `{name}`" in finding[0].message
    assert kind in result.summary
    assert_hidden(result.model_dump_json())


def test_a_private_key_block_is_annotated_over_all_its_lines(
    run_criterion: Callable[..., CriterionResult],
):
    key = pem()
    text = f'"""Deploy helpers."""\n\nKEY = """\n{key}\n"""\n'
    result = run_criterion("secrets", {"deploy/keys.py": text})
    [note] = result.annotations
    first = line_of(text, "-----BEGIN")
    assert (note.start_line, note.end_line) == (first, first + key.count("\n"))
    assert note.title.startswith("Committed private key: -----BEGIN RSA PRIVATE KEY-----…")
    assert note.message.startswith(f"Lines {first}–{note.end_line} of `deploy/keys.py`")
    assert_hidden(result.model_dump_json())


def test_a_service_account_file_is_named_as_such(run_criterion: Callable[..., CriterionResult]):
    account = {
        "type": "service_account",
        "project_id": "dtu-mlops-group-7",
        "private_key_id": WANDB,
        "private_key": pem("") + "\n",
        "client_email": "trainer@dtu-mlops-group-7.iam.gserviceaccount.com",
    }
    text = json.dumps(account, indent=2)
    result = run_criterion("secrets", {"gcp-key.json": text})
    [note] = result.annotations
    assert note.title.startswith("Committed Google Cloud service-account key")
    assert note.start_line == note.end_line == line_of(text, '"private_key"')
    assert "Service accounts → Keys" in note.message
    assert_hidden(result.model_dump_json())


def test_a_shaped_token_assigned_to_a_name_is_reported_once(
    run_criterion: Callable[..., CriterionResult],
):
    result = run_criterion("secrets", {".env": f"GITHUB_TOKEN={GITHUB}\n"})
    [note] = result.annotations
    assert note.title.startswith("Committed GitHub token")
    assert "assigned to `GITHUB_TOKEN`" in note.message


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (".env", "WANDB_API_KEY=your-key-here\n"),
        (".env", "HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"),
        (".env", "OPENAI_API_KEY=<TOKEN>\n"),
        (".env", "DB_PASSWORD=changeme\n"),
        (".env.example", "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"),
        (".github/workflows/ci.yaml", "env:\n  WANDB_API_KEY: ${{ secrets.WANDB_API_KEY }}\n"),
        ("src/train.py", 'import os\nwandb.login(key=os.environ["WANDB_API_KEY"])\n'),
        ("src/train.py", 'api_key = os.getenv("OPENAI_API_KEY")\n'),
        ("src/train.py", 'API_KEY = os.environ["OPENAI_API_KEY"]\n'),
        ("src/train.py", "token = get_token()\n"),
        ("src/train.py", 'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")\n'),
        ("src/train.py", "max_tokens = 4096\n"),
        ("src/train.py", 'pad_token = "<pad>"\n'),
        ("src/train.py", 'API_KEY = "OPENAI_API_KEY"\n'),
        ("src/aws.py", 'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n'),
        (
            "src/keys.py",
            'if text.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n'
            '    text = text.replace("-----END RSA PRIVATE KEY-----", "")\n',
        ),
        ("README.md", "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"),
        ("README.md", "Run `export WANDB_API_KEY=<your key>` before training.\n"),
        ("src/tasks.py", 'name = "task-management-system-for-all-the-students-2024"\n'),
        ("configs/config.yaml", "db:\n  password: ${oc.env:DB_PASSWORD}\n  api_key: ???\n"),
        ("src/data.py", 'sha = "3f786850e387550fdab836ed7e6dc881de23001b"\n'),
        ("tokenizer.json", '{"pad_token": "[PAD]", "eos_token": "</s>", "token_count": 32000}\n'),
        ("requirements.txt", "tokenizers==0.15.0\npasslib==1.7.4\n"),
        (
            "docker-compose.yaml",
            "environment:\n  POSTGRES_PASSWORD: postgres\n  password: Pa55word\n",
        ),
        ("notebooks/a.ipynb", json.dumps({"cells": [{"source": ["token = login(user)\n"]}]})),
    ],
)
def test_placeholders_and_references_are_not_credentials(
    run_criterion: Callable[..., CriterionResult], path: str, text: str
):
    result = run_criterion("secrets", {path: text})
    assert result.status == Status.passed, result.annotations


def test_the_redacted_form_never_shows_more_than_a_quarter_of_a_value():
    assert redact("Zq8!mK2#pL") == "Zq… (10 characters)"
    assert redact(WANDB) == f"{WANDB[:4]}… (40 characters)"
    assert redact(GITHUB, "ghp_") == "ghp_… (40 characters)"


# -- awkward files ----------------------------------------------------------------------------


def test_invalid_yaml_and_toml_are_still_scanned(run_criterion: Callable[..., CriterionResult]):
    result = run_criterion(
        "secrets",
        {
            "configs/broken.yaml": f"hub:\n  hf_token: {HUGGING_FACE}\n  bad: [unclosed\n",
            "pyproject.toml": f'[tool.leafs\ntoken = "{GITHUB}"\n',
        },
    )
    assert sorted((a.path, a.start_line) for a in result.annotations) == [
        ("configs/broken.yaml", 2),
        ("pyproject.toml", 2),
    ]


def test_a_token_split_over_two_string_literals_is_not_joined(
    run_criterion: Callable[..., CriterionResult],
):
    """Documented limit: pieces are not joined; one piece with a full token is still found."""
    half = len(GITHUB) // 2
    split = f'TOKEN = (\n    "{GITHUB[:half]}"\n    "{GITHUB[half:]}"\n)\n'
    assert run_criterion("secrets", {"src/split.py": split}).status == Status.passed

    whole_first = f'HEADER = "{GITHUB}" \\\n    "-suffix"\n'
    [note] = run_criterion("secrets", {"src/joined.py": whole_first}).annotations
    assert (note.start_line, note.end_line) == (1, 1)


def test_binary_and_non_utf8_files_are_scanned_safely(
    run_criterion: Callable[..., CriterionResult],
):
    binary = (
        b"\x00\xff\xfe\x01" * 64
        + b"\n"
        + f'{{"hf_token": "{HUGGING_FACE}"}}'.encode()
        + b"\x00\x9c"
    )
    latin = f"Caf\xe9 notes\nGITHUB_TOKEN={GITHUB}\n".encode("latin-1")
    result = run_criterion("secrets", {"models/cache.bin": binary, "notes.txt": latin})
    places = {(a.path, a.start_line) for a in result.annotations}
    assert places == {("models/cache.bin", 2), ("notes.txt", 2)}
    assert_hidden(result.model_dump_json())


def test_a_file_over_the_read_cap_is_scanned_up_to_the_cap(make_repo: Callable[..., Path]):
    text = f"first = {GITHUB}\n" + "x" * 10_000 + f"\nlast = {HUGGING_FACE}\n"
    root = make_repo({"logs/train.log": text})
    found = secret_findings(Snapshot(root, read_cap=4096))
    assert [(f.path, f.start_line, f.kind) for f in found] == [
        ("logs/train.log", 1, "GitHub token")
    ]


def test_symlinks_are_not_followed_outside_nor_reported_twice(
    make_repo: Callable[..., Path], tmp_path: Path, run_criterion: Callable[..., CriterionResult]
):
    outside = tmp_path / "home.env"
    outside.write_text(f"GITHUB_TOKEN={GITHUB}\n")
    root = make_repo({"src/app.py": f'TOKEN = "{HUGGING_FACE}"\n'})
    os.symlink(outside, root / "linked.env")
    os.symlink(root / "src" / "app.py", root / "alias.py")
    result = run_criterion("secrets", root)
    assert [(a.path, a.start_line) for a in result.annotations] == [("src/app.py", 1)]


def test_committed_virtual_environments_are_left_to_hygiene(
    run_criterion: Callable[..., CriterionResult],
):
    """Installed packages ship test keys of their own; `hygiene` reports the folder."""
    result = run_criterion(
        "secrets",
        {
            ".venv/pyvenv.cfg": "home = /usr/bin\n",
            ".venv/lib/python3.11/site-packages/tornado/test/test.key": pem(),
            "src/app.py": "print('hello')\n",
        },
    )
    assert result.status == Status.passed
    assert result.metrics["scanned_files"] == 1


def test_annotations_are_capped_but_every_credential_is_counted(
    run_criterion: Callable[..., CriterionResult],
):
    tokens = [f"T{i} = {'ghp_' + _random(36)}" for i in range(60)]
    result = run_criterion("secrets", {"leaks.txt": "\n".join(tokens) + "\n"})
    assert len(result.annotations) == 50
    assert result.metrics["findings"] == 60
    assert result.summary.startswith("Found 60 committed credentials: GitHub token in leaks.txt:1,")
    assert result.details.count("| `leaks.txt`") == 60


# -- the shared fact for the AI review ------------------------------------------------------


def test_secret_findings_lists_redacted_records_once_per_snapshot(make_repo: Callable[..., Path]):
    root = make_repo({".env": f"HF_TOKEN={HUGGING_FACE}\n", "deploy/id_rsa": pem() + "\n"})
    snapshot = Snapshot(root)
    found = secret_findings(snapshot)
    assert found == [
        SecretFinding(".env", 1, 1, "Hugging Face token", "hf_… (37 characters)", "HF_TOKEN"),
        SecretFinding(
            "deploy/id_rsa",
            1,
            pem().count("\n") + 1,
            "private key",
            f"-----BEGIN RSA PRIVATE KEY-----… ({len(KEY_BODY):,} characters)",
        ),
    ]
    assert secret_findings(snapshot) is found


# -- never in any output --------------------------------------------------------------------


def _renderings(report: Report) -> dict[str, str]:
    """Everything `checks.render` makes of a report: each public function taking only it."""
    import checks.render

    out = {}
    modules = [checks.render] + [
        importlib.import_module(f"checks.render.{info.name}")
        for info in pkgutil.iter_modules(checks.render.__path__)
    ]
    for module in modules:
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            required = [
                p for p in inspect.signature(function).parameters.values() if p.default is p.empty
            ]
            if required and all(p.annotation in ("Report", Report) for p in required):
                value = function(*[report] * len(required))
                out[f"{module.__name__}.{name}"] = value if isinstance(value, str) else repr(value)
    return out


def test_no_credential_appears_in_any_output_of_the_whole_profile(make_repo: Callable[..., Path]):
    account = {"type": "service_account", "private_key": pem("") + "\n", "private_key_id": WANDB}
    root = make_repo(
        {
            "pyproject.toml": '[project]\nname = "leafs"\ndependencies = ["torch", "wandb"]\n',
            "README.md": f"# Leafs\n\nOur key is {OPENAI} (oops).\n",
            ".env": (
                f"WANDB_API_KEY={WANDB}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"
                f"DB_PASSWORD={PASSWORD}\n"
            ),
            "src/leafs/__init__.py": "",
            "src/leafs/train.py": (
                "import wandb\n\n\ndef main() -> None:\n"
                f'    wandb.login(key="{WANDB}")\n    token = "{GITHUB}"\n    print(token)\n'
            ),
            "configs/hub.yaml": f"hf_token: {HUGGING_FACE}\ngh: {GITHUB_FINE}\n",
            ".github/workflows/tests.yaml": (
                "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n"
                f"    env:\n      KEY: {GOOGLE}\n"
            ),
            "reports/README.md": f"## Question 1\n\nAnswer: {AWS_ID}\n",
            "gcp.json": json.dumps(account, indent=2),
            "requirements.txt": f"torch\n--index-url https://user:{PASSWORD}@example.org/simple\n",
        }
    )
    report = evaluate(root, load_profile())

    secrets = report.result("secrets")
    assert secrets.status == Status.fail
    assert secrets.metrics["findings"] >= 9
    assert_hidden(report.model_dump_json())
    renderings = _renderings(report)
    assert renderings, "checks.render has renderers to check"
    for name, text in renderings.items():
        for secret in ALL_SECRETS:
            assert leaked(text, secret) is None, f"{name} shows a piece of {secret[:4]}…"


def test_ten_thousand_files_are_scanned_quickly(make_repo: Callable[..., Path]):
    module = '"""Data step {i}."""\n\nimport os\n\nTOKEN = os.environ["HF_TOKEN"]\n' + (
        'config = {{"key": "value", "token_limit": 512}}\n' * 40
    )
    files: dict[str, str | bytes] = {
        f"src/pkg/part{i // 100}/module_{i}.py": module.format(i=i) for i in range(10_000)
    }
    files["src/pkg/part7/module_700.py"] += f'LEAK = "{GITHUB}"\n'
    snapshot = Snapshot(make_repo(files))
    started = time.process_time()
    found = secret_findings(snapshot)
    assert time.process_time() - started < 3.0
    assert [f.path for f in found] == ["src/pkg/part7/module_700.py"]
