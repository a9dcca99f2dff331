"""The AI review's own check run, `MLOps Mentor · AI review`: advice, never a grade.

Its conclusion is always `neutral`, its summary says that a language model wrote it, and
whatever goes wrong (the endpoint, GitHub, a bug) ends here: `post_ai_review` never
raises, so the main check run is never affected.
"""

from __future__ import annotations

import logging
import time

from githubkit import GitHub

from checks.models import clip
from checks.profile import Profile
from checks.snapshot import Snapshot
from github_app.checkrun import TEXT_LIMIT, CheckAnnotation, Completion
from github_app.logs import LOGGER, REDACTOR, event
from github_app.review.cache import ReviewCache
from github_app.review.review import JudgeResult, ReviewOutcome, review_snapshot
from github_app.review.settings import ReviewSettings

logger = logging.getLogger(LOGGER)
RUN_SUFFIX = " · AI review"
COULD_NOT_FINISH = "AI review could not finish"
OVER_BUDGET = "AI review skipped: daily limit reached"
# Files named one by one in the "not sent" note; the rest are counted.
NAMED_FILES = 10


def machine_note(model: str) -> str:
    return (
        f"> **Machine-generated.** A language model (`{model}`) read part of this commit and "
        "wrote this review. It is advice to discuss in your group, not a grade: it can be "
        "wrong, and it never changes the result of the main check."
    )


def _score(judge: JudgeResult) -> str:
    return f"{judge.answer.score}/5" if judge.answer else "–"


def title_line(outcome: ReviewOutcome) -> str:
    if outcome.state == "failed":
        return OVER_BUDGET if outcome.over_budget else COULD_NOT_FINISH
    return clip(" · ".join(f"{j.title} {_score(j)}" for j in outcome.judges), 255)


def _files(paths: list[str]) -> str:
    named = ", ".join(f"`{p}`" for p in paths[:NAMED_FILES])
    more = len(paths) - NAMED_FILES
    return named + (f" and {more} more" if more > 0 else "")


def summary_markdown(outcome: ReviewOutcome, profile: Profile) -> str:
    """The scores table, each judge's summary, and what the model was (not) shown."""
    out = [machine_note(outcome.model), ""]
    if outcome.problem and outcome.state != "complete":
        out += [f"**{outcome.problem}**", ""]
    out += ["| Aspect | Score | Confidence | On the scale |", "| --- | --- | --- | --- |"]
    for judge in outcome.judges:
        answer = judge.answer
        scale = profile.review[judge.id].scale.get(answer.score, "") if answer else ""
        confidence = f"{answer.confidence}/10" if answer else "–"
        out.append(f"| {judge.title} | **{_score(judge)}** | {confidence} | {scale} |")
    for judge in outcome.judges:
        out += ["", f"### {judge.title} · {_score(judge)}", ""]
        if judge.answer is None:
            out.append(judge.problem or "Not reviewed.")
            continue
        out.append(judge.answer.summary)
        notes = []
        if judge.annotations:
            n = len(judge.annotations)
            notes.append(
                f"{n} suggestion{'s are' if n != 1 else ' is'} shown as notes on the lines "
                f"{'they point' if n != 1 else 'it points'} at."
            )
        if judge.dropped:
            notes.append(
                f"{judge.dropped} pointing at a file or line that does not exist "
                f"{'were' if judge.dropped != 1 else 'was'} left out."
            )
        if judge.cached:
            notes.append("This commit's files are unchanged since this answer was given.")
        if notes:
            out += ["", "_" + " ".join(notes) + "_"]
    out += ["", "---", "", _reading_note(outcome)]
    return clip("\n".join(out), TEXT_LIMIT)


def _reading_note(outcome: ReviewOutcome) -> str:
    read = ", ".join(f"{j.files_sent} files for {j.title.lower()}" for j in outcome.judges)
    note = f"The model read {read}."
    withheld = sorted({p for j in outcome.judges for p in j.withheld})
    if withheld:
        note += (
            f" Never sent because they hold a credential: {_files(withheld)} (see the "
            "`secrets` result of the main check)."
        )
    left_out = sorted({p for j in outcome.judges for p in j.left_out})
    if left_out:
        note += f" Not read for lack of room: {_files(left_out)}."
    return note


def rubric_markdown(outcome: ReviewOutcome, profile: Profile) -> str:
    """How each aspect is scored: the rubric the model was given."""
    out = ["## How the scores are given"]
    for judge in outcome.judges:
        rubric = profile.review[judge.id]
        out += ["", f"### {rubric.title}", "", rubric.instructions, ""]
        out += [f"{score}. {rubric.scale[score]}" for score in sorted(rubric.scale)]
    return clip("\n".join(out), TEXT_LIMIT)


def completion_for(outcome: ReviewOutcome, profile: Profile) -> Completion:
    return Completion(
        conclusion="neutral",
        title=title_line(outcome),
        summary=summary_markdown(outcome, profile),
        text=rubric_markdown(outcome, profile),
        annotations=[CheckAnnotation.of(a) for a in outcome.annotations()],
        problem=outcome.problem,
    )


def failed_completion(model: str) -> Completion:
    reason = "Something went wrong on our side while preparing the review."
    return Completion(
        conclusion="neutral",
        title=COULD_NOT_FINISH,
        summary=f"{machine_note(model)}\n\n**{reason}** Your main check is not affected; "
        "the next push is reviewed again.",
        problem=reason,
    )


def should_review(
    settings: ReviewSettings, profile: Profile, branch: str | None, default_branch: str | None
) -> bool:
    """Whether this push gets an AI review at all (no check run is created otherwise)."""
    if not settings.enabled or not profile.review:
        return False
    return not settings.default_branch_only or (branch is not None and branch == default_branch)


def post_ai_review(
    gh: GitHub,
    owner: str,
    repo: str,
    sha: str,
    snapshot: Snapshot,
    settings: ReviewSettings,
    cache: ReviewCache,
    *,
    profile: Profile,
    installation: int,
    check_name: str = "MLOps Mentor",
    branch: str | None = None,
    default_branch: str | None = None,
) -> ReviewOutcome | None:
    """Create and complete the AI review's check run on `sha`; None when none was made.

    Call it after the main check run is completed, with the same installation client and
    snapshot (its secret scan is reused). It never raises: every failure is logged, and
    shown on the AI review's run when that run exists.
    """
    if not should_review(settings, profile, branch, default_branch):
        return None
    started = time.perf_counter()
    outcome: ReviewOutcome | None = None
    error: str | None = None
    try:
        created = gh.rest.checks.create(
            owner,
            repo,
            data={"name": check_name + RUN_SUFFIX, "head_sha": sha, "status": "in_progress"},
        )
        run_id = int(created.json()["id"])
    except Exception as exc:
        _log(owner, repo, sha, None, None, started, f"creating the run: {type(exc).__name__}")
        return None
    try:
        outcome = review_snapshot(
            snapshot, profile, settings, cache=cache, installation=installation
        )
        completion = completion_for(outcome, profile)
    except Exception as exc:
        logger.exception("AI review of %s/%s@%s failed", owner, repo, sha)
        error = REDACTOR(f"{type(exc).__name__}: {exc}")[:300]
        completion = failed_completion(settings.model)
    try:
        for body in completion.requests():
            gh.rest.checks.update(owner, repo, run_id, data=body)  # type: ignore[arg-type]
    except Exception as exc:
        error = error or f"completing the run: {type(exc).__name__}"
    _log(owner, repo, sha, run_id, outcome, started, error)
    return outcome


def _log(
    owner: str,
    repo: str,
    sha: str,
    run_id: int | None,
    outcome: ReviewOutcome | None,
    started: float,
    error: str | None,
) -> None:
    event(
        logger,
        "ai_review",
        level=logging.INFO if error is None else logging.ERROR,
        repo=f"{owner}/{repo}",
        sha=sha,
        check_run=run_id,
        state=outcome.state if outcome else None,
        scores={j.id: j.answer.score if j.answer else None for j in outcome.judges}
        if outcome
        else None,
        cached=[j.id for j in outcome.judges if j.cached] if outcome else None,
        model_requests=outcome.requests if outcome else 0,
        problem=outcome.problem if outcome else None,
        duration_ms=round((time.perf_counter() - started) * 1000),
        error=error,
    )
