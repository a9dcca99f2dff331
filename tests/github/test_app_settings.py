"""Settings from the environment, and the small pure pieces: models, redaction, retries."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from githubkit.exception import RequestFailed
from githubkit.response import Response
from huey import MemoryHuey
from pydantic import ValidationError

from checks.models import Annotation, Level
from github_app.checkrun import CheckAnnotation, CheckOutput, Completion
from github_app.client import retry_policy
from github_app.jobs import HueyJobQueue, Job, QueueFull
from github_app.logs import MASK, Redactor
from github_app.services import load_course_profile
from github_app.settings import Settings, SettingsError
from github_app.store import Store
from tests.github.github_helpers import APP_ID, WEBHOOK_SECRET


@pytest.fixture
def env(rsa_key: tuple[str, bytes]) -> dict[str, str]:
    return {
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_PRIVATE_KEY": rsa_key[0],
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


def test_settings_from_the_environment(env: dict[str, str], tmp_path: Path) -> None:
    env.update(
        GITHUB_API_URL="https://ghe.example.dk/api/v3",
        MLOPS_MENTOR_DATA_DIR=str(tmp_path),
        MLOPS_MENTOR_CHECK_NAME="Mentor",
        MLOPS_MENTOR_ANNOTATION_CAP="100",
        MLOPS_MENTOR_MAX_EXTRACT_FILES="1000",
    )
    settings = Settings.from_env(env)
    assert settings.app_id == APP_ID
    assert settings.api_url == "https://ghe.example.dk/api/v3/"
    assert settings.data_dir == tmp_path
    assert settings.check_name == "Mentor"
    assert settings.annotation_cap == 100
    assert settings.extract_limits().max_files == 1000
    assert settings.webhook_path == "/webhook"
    assert WEBHOOK_SECRET not in repr(settings)


def test_private_key_from_a_file_or_with_escaped_newlines(
    env: dict[str, str], rsa_key: tuple[str, bytes], tmp_path: Path
) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(rsa_key[0])
    del env["GITHUB_PRIVATE_KEY"]
    from_file = Settings.from_env({**env, "GITHUB_PRIVATE_KEY_PATH": str(key_file)})
    one_line = Settings.from_env({**env, "GITHUB_PRIVATE_KEY": rsa_key[0].replace("\n", "\\n")})
    assert from_file.private_key == one_line.private_key


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"GITHUB_APP_ID": ""}, "GITHUB_APP_ID: is required"),
        ({"GITHUB_APP_ID": "twelve"}, "GITHUB_APP_ID: Input should be a valid integer"),
        ({"GITHUB_WEBHOOK_SECRET": ""}, "GITHUB_WEBHOOK_SECRET: is required"),
        (
            {"GITHUB_PRIVATE_KEY": ""},
            "GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH: is required",
        ),
        (
            {"GITHUB_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWJ1dC1icm9rZW4=\n"},
            "GITHUB_PRIVATE_KEY: is not a PEM private key",
        ),
        (
            {"GITHUB_PRIVATE_KEY": "", "GITHUB_PRIVATE_KEY_PATH": "/nonexistent/app.pem"},
            "GITHUB_PRIVATE_KEY_PATH: cannot read /nonexistent/app.pem",
        ),
        ({"GITHUB_API_URL": "api.github.com"}, "GITHUB_API_URL: must start with https://"),
        ({"MLOPS_MENTOR_WEBHOOK_PATH": "hook"}, "MLOPS_MENTOR_WEBHOOK_PATH: must start with /"),
        ({"MLOPS_MENTOR_WORKERS": "0"}, "MLOPS_MENTOR_WORKERS: Input should be greater"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_variable(
    env: dict[str, str], change: dict[str, str], message: str
) -> None:
    env.update(change)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text
    assert "c2VjcmV0" not in text and WEBHOOK_SECRET not in text


def test_course_configuration_problems_name_the_variable(
    env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "course.yml"
    config.write_text("criteria:\n  docker: {severity: mandatory}\n")
    settings = Settings.from_env({**env, "MLOPS_MENTOR_CONFIG": str(config)})
    with pytest.raises(SettingsError, match=r"^MLOPS_MENTOR_CONFIG: .*course.yml:2"):
        load_course_profile(settings)
    config.write_text("criteria:\n  docker: {severity: required}\n")
    assert load_course_profile(settings).settings("docker").severity == "required"


def test_importing_github_app_stays_cheap() -> None:
    code = (
        "import sys, github_app; "
        "print(sorted(m for m in ('flask', 'githubkit', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_annotation_mapping_follows_github_limits() -> None:
    annotation = Annotation(
        path="src/model.py",
        start_line=3,
        end_line=2,
        level=Level.failure,
        title="t" * 300,
        message="ø" * 40_000,  # 80,000 bytes in UTF-8
    )
    mapped = CheckAnnotation.of(annotation)
    assert (mapped.start_line, mapped.end_line) == (3, 3)
    assert mapped.annotation_level == "failure"
    assert len(mapped.title or "") == 255
    assert len(mapped.message.encode()) <= 64 * 1024
    with pytest.raises(ValidationError):
        CheckAnnotation(path="a", start_line=0, end_line=1, annotation_level="notice", message="m")
    with pytest.raises(ValidationError):
        CheckOutput(title="t", summary="s" * 65_536)


def test_completion_posts_annotation_batches_before_completing() -> None:
    note = CheckAnnotation(
        path="a.py", start_line=1, end_line=1, annotation_level="notice", message="m"
    )
    completion = Completion(
        conclusion="success", title="T", summary="S", text="X", annotations=[note] * 120
    )
    bodies = list(completion.requests())
    assert [len(b["output"].get("annotations", [])) for b in bodies] == [50, 50, 20]
    assert [b.get("conclusion") for b in bodies] == [None, None, "success"]
    assert all(b["output"]["title"] == "T" and b["output"]["summary"] == "S" for b in bodies)
    assert "text" in bodies[-1]["output"] and "text" not in bodies[0]["output"]
    empty = list(Completion(conclusion="neutral", title="T", summary="S").requests())
    assert empty == [
        {"status": "completed", "conclusion": "neutral", "output": {"title": "T", "summary": "S"}}
    ]


def test_redactor_masks_known_secrets_and_credential_shapes() -> None:
    redact = Redactor(
        [WEBHOOK_SECRET, "-----BEGIN KEY-----\nQUJDREVGR0hJSktMTU5PUFFS\n-----END KEY-----"]
    )
    text = redact(
        f"secret={WEBHOOK_SECRET} line=QUJDREVGR0hJSktMTU5PUFFS "
        "Authorization: token ghs_abcdefghijklmnopqrstuvwxyz0123 "
        "url=https://codeload.example/x.tar.gz?token=ABCDEF123456 "
        "jwt=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiI0MiJ9.c2lnbmF0dXJl"
    )
    assert WEBHOOK_SECRET not in text
    assert "QUJDREVGR0hJSktMTU5PUFFS" not in text
    assert "ghs_" not in text and "ABCDEF123456" not in text and "eyJ" not in text
    assert text.count(MASK) >= 5


def _failure(status: int, headers: dict[str, str] | None = None) -> RequestFailed:
    request = httpx.Request("POST", "https://api.github.com/repos/o/r/check-runs")
    return RequestFailed(Response(httpx.Response(status, headers=headers, request=request), dict))


def test_retry_policy_retries_server_errors_only_a_few_times() -> None:
    decide = retry_policy(retries=2, backoff=0.5)
    assert decide(_failure(502), 0).do_retry
    # Exponential (0.5 s, then 1 s), spread by jitter over the upper half.
    waits = [decide(_failure(502), 1).retry_after for _ in range(50)]
    assert all(timedelta(seconds=0.5) <= w <= timedelta(seconds=1) for w in waits)
    assert len(set(waits)) > 1
    assert not decide(_failure(502), 2).do_retry
    assert not decide(_failure(404), 0).do_retry
    assert not decide(_failure(422), 0).do_retry


def queue_in(tmp_path: Path, settings: Settings, clock: Any = None) -> HueyJobQueue:
    """A queue with no consumer: tasks stay in memory, evaluations in a store on disk."""
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", clock=clock)
    store.migrate()
    return HueyJobQueue(MemoryHuey("test"), store, settings)


def test_job_queue_deduplicates_commits_but_not_reruns_or_redeliveries(
    tmp_path: Path, make_settings
) -> None:
    queue = queue_in(tmp_path, make_settings())
    job = Job(installation=1, owner="o", repo="r", repository_id=5, sha="a" * 40, delivery_id="1")
    assert queue.submit(job)
    # The same delivery again, or the same commit pushed to another branch: nothing new.
    assert not queue.submit(job)
    assert not queue.submit(job.model_copy(update={"delivery_id": "2", "branch": "dev"}))
    assert queue.submit(job.model_copy(update={"delivery_id": "3", "trigger": "rerequested"}))
    assert queue.pending == 2
    assert queue.waiting() == {1, 2}
    queue.close()


def test_job_queue_forgets_commits_after_the_dedupe_window(tmp_path: Path, make_settings) -> None:
    now = [datetime(2026, 1, 5, tzinfo=UTC)]
    queue = queue_in(tmp_path, make_settings(dedupe_seconds=60), clock=lambda: now[0])
    job = Job(installation=1, owner="o", repo="r", repository_id=5, sha="a" * 40, delivery_id="1")
    assert queue.submit(job)
    now[0] += timedelta(seconds=61)
    assert queue.submit(job.model_copy(update={"delivery_id": "2"}))
    queue.close()


def test_a_full_queue_refuses_before_recording(tmp_path: Path, make_settings) -> None:
    queue = queue_in(tmp_path, make_settings(queue_size=1))
    job = Job(installation=1, owner="o", repo="r", repository_id=5, sha="a" * 40, delivery_id="1")
    assert queue.submit(job)
    with pytest.raises(QueueFull):
        queue.submit(job.model_copy(update={"delivery_id": "2", "sha": "b" * 40}))
    assert queue.store.unfinished_count() == 1
    queue.close()
