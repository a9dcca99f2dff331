"""The job: one commit in, one completed check run out.

create the run (in progress) → stream the commit's tarball to a temporary file (capped)
→ extract it safely → run the pure engine → post the result in batches of annotations →
delete the files. Whatever fails after the run exists, the run is still completed, so a
student never looks at a check spinning forever.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import httpx
from githubkit import GitHub
from githubkit.exception import RequestError, RequestFailed, RequestTimeout

from checks import Profile, evaluate
from checks.render.markdown import details_markdown, summary_markdown, title_line
from github_app.checkrun import TEXT_LIMIT, CheckAnnotation, Completion, clip
from github_app.client import GitHubApp
from github_app.extract import ArchiveRefused, Extracted, extract_tarball
from github_app.jobs import Job
from github_app.logs import LOGGER, REDACTOR, event
from github_app.settings import Settings

logger = logging.getLogger(LOGGER)
CHUNK = 1024 * 1024
COULD_NOT_FINISH = "The evaluation could not finish"
# Skipped archive entries listed by name in the summary; the rest are counted.
SKIPPED_LISTED = 10


class TarballTooLarge(Exception):
    """The commit's archive is over the download cap; `str()` is a sentence for students."""

    def __init__(self, size: int, cap: int) -> None:
        super().__init__(
            f"The repository's archive is over {_mb(cap)} (at least {_mb(size)}), more than "
            "this app evaluates. Large files such as data sets and model weights belong in "
            "DVC or cloud storage rather than in git; remove them from the repository "
            "(and its history) and push again."
        )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


class Evaluator:
    """Runs jobs: everything a job needs, built once at start-up."""

    def __init__(self, settings: Settings, github: GitHubApp, profile: Profile) -> None:
        self.settings = settings
        self.github = github
        self.profile = profile
        self.workspace = settings.data_dir / "work"

    def __call__(self, job: Job) -> str:
        return self.evaluate_commit(job)

    def evaluate_commit(self, job: Job) -> str:
        """Evaluate one commit into a new check run; returns the conclusion (or "error")."""
        started = time.perf_counter()
        requests: list[str] = []
        run_id: int | None = None
        completion: Completion | None = None
        error: str | None = None
        gh = self.github.installation(
            job.installation, on_request=lambda r: requests.append(r.method)
        )
        try:
            with gh:
                with self.github.one_at_a_time(job.installation):
                    run_id = self._create_run(gh, job)
                try:
                    completion = self._evaluate(gh, job)
                    self._post(gh, job, run_id, completion)
                except Exception as exc:
                    error = describe_failure(exc)
                    if not isinstance(exc, RequestError):
                        logger.exception("evaluating %s@%s failed", job.full_name, job.sha)
                    completion = could_not_finish(error)
                    self._post(gh, job, run_id, completion)
        except Exception as exc:
            # Creating or completing the run failed: nothing more can be shown on GitHub.
            error = error or describe_failure(exc)
            completion = None
            if not isinstance(exc, RequestError):
                logger.exception("check run for %s@%s failed", job.full_name, job.sha)
        conclusion = completion.conclusion if completion else "error"
        event(
            logger,
            "job",
            level=logging.INFO if completion else logging.ERROR,
            delivery=job.delivery_id,
            repo=job.full_name,
            sha=job.sha,
            branch=job.branch,
            trigger=job.trigger,
            check_run=run_id,
            conclusion=conclusion,
            annotations=len(completion.annotations) if completion else 0,
            api_calls=len(requests),
            duration_ms=round((time.perf_counter() - started) * 1000),
            problem=completion.problem if completion else None,
            error=error,
        )
        return conclusion

    def _create_run(self, gh: GitHub, job: Job) -> int:
        body: dict[str, object] = {
            "name": self.settings.check_name,
            "head_sha": job.sha,
            "status": "in_progress",
            "external_id": job.delivery_id,
        }
        if self.settings.details_url:
            body["details_url"] = self.settings.details_url
        response = gh.rest.checks.create(job.owner, job.repo, data=body)  # type: ignore[arg-type]
        return int(response.json()["id"])

    def _evaluate(self, gh: GitHub, job: Job) -> Completion:
        self.workspace.mkdir(parents=True, exist_ok=True)
        # Always removed, even when extraction left read-only folders behind.
        with tempfile.TemporaryDirectory(
            prefix="job-", dir=self.workspace, ignore_cleanup_errors=True
        ) as tmp:
            archive = Path(tmp) / "commit.tar.gz"
            try:
                self._download(gh, job, archive)
                extracted = extract_tarball(
                    archive, Path(tmp) / "tree", self.settings.extract_limits()
                )
            except (TarballTooLarge, ArchiveRefused) as refused:
                return refused_completion(refused)
            archive.unlink()
            return self._report(extracted)

    def _download(self, gh: GitHub, job: Job, target: Path) -> None:
        """Stream the commit's tarball (following GitHub's redirect) into `target`, capped."""
        cap = self.settings.max_tarball_bytes
        response = gh.rest.repos.download_tarball_archive(job.owner, job.repo, job.sha, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise TarballTooLarge(int(declared), cap)
            size = 0
            with target.open("wb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    size += len(chunk)
                    if size > cap:
                        raise TarballTooLarge(size, cap)
                    out.write(chunk)
        finally:
            response.raw_response.close()

    def _report(self, extracted: Extracted) -> Completion:
        report = evaluate(extracted.root, self.profile)
        note = skipped_note(extracted)
        annotations = [CheckAnnotation.of(a) for a in report.annotations()]
        return Completion(
            conclusion=report.conclusion.value,
            title=title_line(report),
            summary=summary_markdown(report, limit=TEXT_LIMIT - len(note)) + note,
            text=details_markdown(report),
            annotations=annotations[: self.settings.annotation_cap],
        )

    def _post(self, gh: GitHub, job: Job, run_id: int, completion: Completion) -> None:
        for body in completion.requests():
            gh.rest.checks.update(job.owner, job.repo, run_id, data=body)  # type: ignore[arg-type]


def skipped_note(extracted: Extracted) -> str:
    """A paragraph naming archive entries that were not extracted, or ""."""
    if not extracted.skipped:
        return ""
    listed = ", ".join(
        f"`{_code(s.name)}` ({s.reason})" for s in extracted.skipped[:SKIPPED_LISTED]
    )
    more = len(extracted.skipped) - SKIPPED_LISTED
    rest = f" and {more} more" if more > 0 else ""
    return (
        f"\n\n**Not evaluated:** {len(extracted.skipped)} entries of this commit were left "
        f"out for safety or size: {listed}{rest}."
    )


def _code(name: str) -> str:
    # A backtick in a file name would end the markdown code span early.
    return clip(name, 120).replace("`", "'")


def refused_completion(refused: TarballTooLarge | ArchiveRefused) -> Completion:
    too_large = isinstance(refused, TarballTooLarge) or refused.kind == "too_large"
    title = "Repository too large to evaluate" if too_large else "The commit could not be read"
    return Completion(
        conclusion="neutral",
        title=title,
        summary=f"### {title}\n\n{refused}",
        problem=f"refused: {refused}",
    )


def could_not_finish(reason: str) -> Completion:
    return Completion(
        conclusion="neutral",
        title=COULD_NOT_FINISH,
        summary=(
            f"### {COULD_NOT_FINISH}\n\n{reason}\n\n"
            "This is a problem on our side, not in your repository. Press **Re-run** or push "
            "again to try once more; if it keeps happening, tell the course staff."
        ),
        problem=reason,
    )


def describe_failure(exc: BaseException) -> str:
    """Why a job failed, in one sentence that holds no token, secret or signed URL."""
    if isinstance(exc, RequestFailed):
        request = exc.request
        return (
            f"GitHub answered {exc.response.status_code} to {request.method} {_api_path(request)}."
        )
    if isinstance(exc, RequestTimeout):
        return f"GitHub did not answer in time ({exc.request.method} {_api_path(exc.request)})."
    if isinstance(exc, RequestError):
        return f"GitHub could not be reached ({type(exc.exc).__name__})."
    return REDACTOR(f"{type(exc).__name__}: {exc}")[:500]


def _api_path(request: httpx.Request) -> str:
    # The path only: a download redirect's query string carries a temporary token.
    return request.url.path
