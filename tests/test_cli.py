"""`mlops-mentor check` as a student or a workflow runs it: real processes, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from checks import Report

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample-project"
TOKEN = "ghp_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa"


def mentor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "github_app.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )


def test_json_is_the_report_model_exactly() -> None:
    done = mentor("check", str(SAMPLE), "--format", "json")
    report = Report.model_validate_json(done.stdout)
    assert done.returncode == 0
    assert report.profile == "dtu-mlops"
    assert report.total > 20
    assert set(json.loads(done.stdout)) == set(Report.model_fields)


def test_text_groups_by_week_and_shows_marked_lines() -> None:
    done = mentor("check", str(SAMPLE))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("Week 1") < out.index("Week 2")
    assert "M10 Docker" in out
    assert "dockerfiles/train.dockerfile:1" in out  # the `:latest` base image, on its line
    assert "reports/README.md:" in out
    assert "Conclusion: neutral" in out
    assert "\033[" not in out  # no colour codes outside a terminal


def test_markdown_is_the_check_run_summary() -> None:
    done = mentor("check", str(SAMPLE), "--format", "markdown")
    assert done.returncode == 0
    assert "#### What to work on first" in done.stdout
    assert "<details><summary>✅" in done.stdout
    assert "**How to fix:**" in done.stdout
    assert "https://skaftenicki.github.io/dtu_mlops/" in done.stdout


def test_github_format_emits_workflow_commands() -> None:
    done = mentor("check", str(SAMPLE), "--format", "github")
    lines = done.stdout.splitlines()
    assert any(
        line.startswith("::warning file=dockerfiles/train.dockerfile,line=1,") for line in lines
    )
    assert lines[-1].startswith("mlops-mentor: ")


def test_a_committed_secret_fails_with_exit_code_1_and_is_never_printed(make_repo) -> None:
    repo = make_repo({"train.py": f'GITHUB_TOKEN = "{TOKEN}"\n'})
    for fmt in ("text", "json", "markdown", "github"):
        done = mentor("check", str(repo), "--format", fmt)
        assert done.returncode == 1, (fmt, done.stderr)
        assert TOKEN not in done.stdout + done.stderr


def test_bad_input_gets_exit_code_2_and_one_line(tmp_path: Path) -> None:
    cases = [
        ("check", str(tmp_path / "nope")),
        ("check", str(tmp_path), "--profile", "no-such-profile"),
        ("check", str(tmp_path), "--format", "html"),
        ("check", str(tmp_path), "--config", str(tmp_path / "missing.yml")),
    ]
    for args in cases:
        done = mentor(*args)
        assert done.returncode == 2, args
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith("mlops-mentor: error:")
        assert "Traceback" not in done.stderr


def test_a_course_config_switches_criteria_off_and_says_where_it_is_wrong(
    tmp_path: Path, make_repo
) -> None:
    repo = make_repo({"README.md": "hello"})
    config = tmp_path / "mlops-mentor.yml"
    config.write_text("criteria:\n  readme:\n    enabled: false\n")
    report = Report.model_validate_json(
        mentor("check", str(repo), "--config", str(config), "--format", "json").stdout
    )
    assert "readme" not in [r.id for r in report.results]
    config.write_text("criteria:\n  readme:\n    severity: sometimes\n")
    done = mentor("check", str(repo), "--config", str(config))
    assert done.returncode == 2
    assert f"{config}:3:" in done.stderr and "severity" in done.stderr
