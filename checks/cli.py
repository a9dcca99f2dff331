"""`mlops-mentor check PATH`: the same evaluation the app runs, on a local checkout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from checks.engine import evaluate
from checks.models import Conclusion, Report
from checks.profile import (
    DEFAULT_PROFILE,
    CourseConfig,
    ProfileError,
    course_profile,
    load_course_config,
)

FORMATS = ("text", "json", "markdown", "github")


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="the repository folder to check (a checkout)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (a table for people), json (the Report), markdown (the check-run summary), "
        "github (GitHub Actions workflow commands)",
    )
    parser.add_argument(
        "--profile",
        help=f"built-in profile name or a profile YAML file (default: {DEFAULT_PROFILE}, "
        "or the one the --config file names)",
    )
    parser.add_argument("--config", help="the course's configuration file (mlops-mentor.yml)")


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return report.model_dump_json(indent=2) + "\n"
    if fmt == "markdown":
        from checks.render.markdown import details_markdown, summary_markdown

        return summary_markdown(report) + "\n\n---\n\n" + details_markdown(report) + "\n"
    if fmt == "github":
        from checks.render.workflow import render_workflow_commands

        return render_workflow_commands(report)
    from checks.render.text import render_text

    return render_text(report)


def run_check(args: argparse.Namespace) -> int:
    """Evaluate, print, and exit 1 only when the conclusion is `failure`."""
    root = Path(args.path)
    if not root.is_dir():
        print(f"mlops-mentor: error: not a folder: {args.path}", file=sys.stderr)
        return 2
    try:
        config = load_course_config(args.config) if args.config else CourseConfig()
        profile = course_profile(config, args.profile)
    except ProfileError as exc:
        print(f"mlops-mentor: error: {exc}", file=sys.stderr)
        return 2
    report = evaluate(root, profile)
    sys.stdout.write(render(report, args.format))
    return 1 if report.conclusion == Conclusion.failure else 0
