"""Evaluate a snapshot against a profile: criteria in, one `Report` out. Pure: no network."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

from checks.models import Annotation, CriterionResult, Level, Report, Severity, Status
from checks.profile import (
    REPO_CONFIG_PATH,
    ConfigProblem,
    Profile,
    RepoConfig,
    validate_yaml_model,
)
from checks.registry import Context, Criterion, all_criteria
from checks.snapshot import Snapshot

CONFIG_ID = "config"
_SEVERITY_STATUS = {
    Severity.required: Status.fail,
    Severity.recommended: Status.warn,
    Severity.info: Status.info,
}


def read_repo_config(snapshot: Snapshot) -> tuple[RepoConfig, CriterionResult]:
    """The group's own configuration, and a result saying whether it is valid."""
    base = {
        "id": CONFIG_ID,
        "title": "Repository configuration",
        "module": "",
        "module_title": "Course setup",
        "severity": Severity.required,
        "docs_url": "",
    }
    if not snapshot.is_file(REPO_CONFIG_PATH):
        return RepoConfig(), CriterionResult(
            **base, status=Status.info, summary=f"No {REPO_CONFIG_PATH}: the course defaults apply."
        )
    text = snapshot.text(REPO_CONFIG_PATH)
    problems: list[ConfigProblem]
    if text is None:
        config, problems = None, [ConfigProblem(message="file is binary or too large")]
    else:
        config, problems = validate_yaml_model(RepoConfig, text)
    if config is not None:
        return config, CriterionResult(
            **base, status=Status.passed, summary=f"{REPO_CONFIG_PATH} is valid."
        )
    annotations = [
        Annotation(
            path=REPO_CONFIG_PATH,
            start_line=p.line,
            end_line=p.line,
            level=Level.failure,
            title="Invalid mlops-mentor configuration",
            message=p.message,
            rank=0,
        )
        for p in problems
    ]
    return RepoConfig(), CriterionResult(
        **base,
        status=Status.fail,
        summary=f"{REPO_CONFIG_PATH} is invalid: {problems[0].message} (line {problems[0].line}).",
        details="\n".join(f"- line {p.line}: {p.message}" for p in problems),
        fix=(
            "This file may only list `exclude` (paths to ignore) and `exemptions` "
            "(a `criterion` id and a written `reason`). Switching criteria off or changing "
            "thresholds is decided by the course staff. Fix the lines marked, or delete the file."
        ),
        annotations=annotations,
    )


class _Evaluation:
    """One run of the selected criteria over one snapshot, memoised by criterion id."""

    def __init__(
        self,
        snapshot: Snapshot,
        profile: Profile,
        repo: RepoConfig,
        course_week: int | None,
        approved: Collection[str] | None,
    ) -> None:
        allowed = profile.repository.allow
        # A group may hide vendored or generated files from the criteria, but not from the
        # ones it may not be exempted from (a committed key stays a committed key).
        self.course_view = snapshot.excluding(profile.exclude)
        self.group_view = (
            self.course_view.excluding(repo.exclude) if "exclude" in allowed else self.course_view
        )
        self.profile = profile
        self.course_week = course_week
        self.catalog = all_criteria()
        self.selected = [c for c in profile.selected(list(self.catalog)) if c in self.catalog]
        self.requested = {
            e.criterion: e.reason
            for e in (repo.exemptions if "exemptions" in allowed else [])
            if e.criterion in self.catalog and profile.settings(e.criterion).exemptable
        }
        # Without an approval workflow (the command line), a request is taken at its word.
        self.approved = set(self.requested) if approved is None else set(approved)
        self.results: dict[str, CriterionResult] = {}
        self._running: set[str] = set()

    def run_all(self) -> None:
        """Every selected criterion, those with a prefetch last: what they started first then
        works (on another core) while the others run."""
        started = []
        for cid in self.selected:
            criterion = self.catalog[cid]
            if criterion.prefetch is None or self._exempt(cid):
                continue
            started.append(cid)
            try:
                criterion.prefetch(self._view(criterion))
            except Exception:
                # Not hidden: the criterion does the work itself when it runs, and a failure
                # then becomes its error like any other.
                continue
        for cid in self.selected:
            if cid not in started:
                self.result(cid)
        for cid in started:
            self.result(cid)

    def _exempt(self, cid: str) -> bool:
        return bool(self.requested.get(cid)) and cid in self.approved

    def _view(self, criterion: Criterion) -> Snapshot:
        exemptable = self.profile.settings(criterion.id).exemptable
        return self.group_view if exemptable else self.course_view

    def result(self, cid: str) -> CriterionResult | None:
        if cid not in self.selected:
            return None
        if cid not in self.results:
            if cid in self._running:
                raise RuntimeError(f"criteria depend on each other in a cycle through {cid!r}")
            self._running.add(cid)
            try:
                self.results[cid] = self._run(self.catalog[cid])
            finally:
                self._running.discard(cid)
        return self.results[cid]

    def _run(self, criterion: Criterion) -> CriterionResult:
        settings = self.profile.settings(criterion.id)
        severity = settings.severity or criterion.severity
        module = self.profile.modules.get(criterion.module)
        docs_url = settings.docs_url or criterion.docs_url or (module.url if module else "")
        week = settings.week or (module.week if module else None)
        base = {
            "id": criterion.id,
            "title": criterion.title,
            "module": criterion.module,
            "module_title": module.title if module else "",
            "week": week,
            "docs_url": docs_url,
            "severity": severity,
            "description": criterion.description,
            "visibility": settings.visibility,
        }
        reason = self.requested.get(criterion.id, "")
        if self._exempt(criterion.id):
            return CriterionResult(
                **base,
                status=Status.skip,
                summary=f"Exempt: {reason}",
                exemption="approved",
                exempt_reason=reason,
            )
        if reason:
            base |= {"exemption": "requested", "exempt_reason": reason}
        for needed in criterion.requires:
            dependency = self.result(needed)
            if dependency is not None and dependency.status != Status.passed:
                # Students never read an instructor-only result, not even quoted here.
                hidden = dependency.visibility != settings.visibility == "students"
                why = "" if hidden else f": {dependency.summary}"
                return CriterionResult(
                    **base,
                    status=Status.skip,
                    summary=f"Skipped until `{needed}` passes{why}",
                )
        context = Context({**criterion.thresholds, **settings.thresholds}, self.result)
        try:
            outcome = criterion.check(self._view(criterion), context)
        except Exception as exc:  # one broken criterion must not hide the others
            message = f"{type(exc).__name__}: {exc}"[:300]
            return CriterionResult(
                **base,
                status=Status.error,
                summary=f"This check could not finish ({message}). It is our bug, not yours.",
            )
        status = {
            "pass": Status.passed,
            "info": Status.info,
            "fail": _SEVERITY_STATUS[severity],
        }[outcome.status]
        summary = outcome.summary
        needs_fix = status not in (Status.passed, Status.info)
        if needs_fix and week and self.course_week is not None and week > self.course_week:
            # Criteria tighten over the course: a miss before its week is only a heads-up.
            status = Status.info
            summary = f"Expected by week {week}: {summary}"
        for annotation in outcome.annotations:
            if annotation.rank == Annotation.model_fields["rank"].default:
                annotation.rank = criterion.rank
        return CriterionResult(
            **base,
            status=status,
            summary=summary,
            details=outcome.details,
            fix=criterion.fix if needs_fix else "",
            metrics=outcome.metrics,
            annotations=outcome.annotations,
        )


def evaluate(
    target: Snapshot | str | os.PathLike[str],
    profile: Profile,
    *,
    at: datetime | None = None,
    approved_exemptions: Collection[str] | None = None,
) -> Report:
    """Run the profile's criteria over a repository snapshot and report on each of them.

    `at` is when the commit was pushed (criteria tighten week by week from the course's
    start); `approved_exemptions` are the criterion ids an instructor approved (None: every
    exemption the group requests is honoured, as on the command line).
    """
    started = time.perf_counter()
    at = at or datetime.now(UTC)
    # An evaluation allocates hundreds of thousands of small objects (syntax trees, findings)
    # and frees them by reference counting; the collector's passes over them cost a tenth
    # of the time on a large repository, for no cycle worth collecting early.
    collecting = gc.isenabled()
    gc.disable()
    try:
        snapshot = target if isinstance(target, Snapshot) else Snapshot(Path(target))
        repo, config_result = read_repo_config(snapshot)
        course_week = profile.schedule.week(at)
        run = _Evaluation(snapshot, profile, repo, course_week, approved_exemptions)
        run.run_all()
    finally:
        if collecting:
            gc.enable()
    return Report.of(
        profile.name,
        [config_result] + [run.results[cid] for cid in run.selected],
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        course_week=course_week,
        late=profile.schedule.is_late(at),
    )
