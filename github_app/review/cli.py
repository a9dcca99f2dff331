"""`mlops-mentor review PATH`: the AI review's judges on a local checkout.

The same judges, rubric and context as the app's `MLOps Mentor · AI review` run, without
the cache or the daily budget. Needs `LLM_BASE_URL` and `LLM_MODEL` (and `LLM_API_KEY`
when the endpoint wants one).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from checks.profile import (
    DEFAULT_PROFILE,
    CourseConfig,
    Profile,
    ProfileError,
    course_profile,
    load_course_config,
)
from checks.snapshot import Snapshot
from github_app.review.review import ReviewOutcome, review_snapshot
from github_app.review.settings import ENV, ReviewSettings, ReviewSettingsError

FORMATS = ("text", "json")
WIDTH = 88


def add_review_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="the repository folder to review (a checkout)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (scores, summaries and suggestions for people) or json",
    )
    parser.add_argument(
        "--profile",
        help=f"built-in profile name or a profile YAML file with the judges (default: "
        f"{DEFAULT_PROFILE}, or the one the --config file names)",
    )
    parser.add_argument("--config", help="the course's configuration file (mlops-mentor.yml)")


def render_text(outcome: ReviewOutcome, path: str) -> str:
    out = [
        f"AI review of {path} by {outcome.model}: machine-generated advice, not a grade.",
        "",
    ]
    if outcome.problem:
        out += [outcome.problem, ""]
    for judge in outcome.judges:
        if judge.answer is None:
            out += [f"{judge.title}: not reviewed. {judge.problem or ''}".rstrip(), ""]
            continue
        answer = judge.answer
        out.append(f"{judge.title}: {answer.score}/5 (confidence {answer.confidence}/10)")
        for paragraph in answer.summary.split("\n"):
            if paragraph.strip():
                out += textwrap.wrap(paragraph, WIDTH, initial_indent="  ", subsequent_indent="  ")
        for note in judge.annotations:
            out.append(f"  - {note.path}:{note.start_line}  {note.message}")
        if judge.dropped:
            out.append(
                f"  ({judge.dropped} suggestion(s) pointing at a file or line that does not "
                "exist left out)"
            )
        out.append("")
    withheld = sorted({p for j in outcome.judges for p in j.withheld})
    if withheld:
        out.append("Never sent to the model (they hold a credential): " + ", ".join(withheld))
    return "\n".join(out).rstrip() + "\n"


def _fail(message: str) -> int:
    print(f"mlops-mentor: error: {message}", file=sys.stderr)
    return 2


def run_review(args: argparse.Namespace) -> int:
    """Review and print; exit 0 when every judge answered, 1 when some could not, 2 on
    unusable arguments or settings."""
    try:
        settings = ReviewSettings.from_env()
    except ReviewSettingsError as exc:
        return _fail(str(exc))
    if settings is None:
        return _fail(
            f"the AI review needs {ENV['base_url']} (an OpenAI-compatible endpoint, e.g. "
            f"http://localhost:11434/v1) and {ENV['model']} to be set"
        )
    root = Path(args.path)
    if not root.is_dir():
        return _fail(f"not a folder: {args.path}")
    try:
        config = load_course_config(args.config) if args.config else CourseConfig()
        profile: Profile = course_profile(config, args.profile)
    except ProfileError as exc:
        return _fail(str(exc))
    if not profile.review:
        return _fail(f"profile {profile.name} has no `review` judges")
    outcome = review_snapshot(Snapshot(root), profile, settings)
    if args.format == "json":
        sys.stdout.write(outcome.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(render_text(outcome, args.path))
    return 0 if outcome.state == "complete" else 1
