"""Everything the web endpoint and the jobs share, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from checks import Profile
from checks.profile import CourseConfig, ProfileError, course_profile, load_course_config
from github_app.client import GitHubApp
from github_app.course import CourseConfigs, CourseState
from github_app.jobs import HueyJobQueue, make_huey
from github_app.logs import REDACTOR, protect
from github_app.review.settings import ReviewSettings, ReviewSettingsError
from github_app.settings import ENV, Settings, SettingsError
from github_app.store import Store, StoreError
from github_app.store.course import CourseRecords
from github_app.worker import Evaluator


@dataclass
class Services:
    """Settings, the results store, the queue and the job runner of this process."""

    settings: Settings
    store: Store
    queue: HueyJobQueue
    evaluator: Evaluator
    courses: CourseConfigs

    @property
    def records(self) -> CourseRecords:
        return self.courses.records

    def close(self) -> None:
        self.queue.close()


def load_course_profile(settings: Settings) -> Profile:
    """The profile in force: the course's configuration file (if any) over its base profile."""
    return load_course_state(settings).profile


def load_course_state(settings: Settings) -> CourseState:
    """The deployment's course configuration (`MLOPS_MENTOR_CONFIG`, else the defaults):
    what applies to an organisation without its own course file."""
    try:
        config = (
            load_course_config(settings.course_config) if settings.course_config else None
        ) or CourseConfig()
        return CourseState(config, course_profile(config))
    except ProfileError as exc:
        raise SettingsError(f"{ENV['course_config']}: {exc}") from None


def load_review_settings() -> ReviewSettings | None:
    """The AI review's settings from the environment (None: no review)."""
    try:
        return ReviewSettings.from_env()
    except ReviewSettingsError as exc:
        raise SettingsError(str(exc)) from None


def build_services(
    settings: Settings,
    *,
    immediate: bool = False,
    review: ReviewSettings | None = None,
) -> Services:
    """Connect the store (creating or migrating its schema), the queue and the runner.

    `immediate` runs each job in the thread that queues it (huey's immediate mode: one
    process, no consumer); `review` switches the AI review on.
    """
    REDACTOR.add(settings.secrets())
    protect()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        store = Store(settings.store_url())
        store.migrate()
    except StoreError as exc:
        raise SettingsError(f"{ENV['database_url']}: {exc}") from None
    queue = HueyJobQueue(make_huey(settings, immediate=immediate), store, settings)
    fallback = load_course_state(settings)
    courses = CourseConfigs(CourseRecords(store), fallback)
    evaluator = Evaluator(
        settings, GitHubApp(settings), fallback.profile, store, queue, review, courses=courses
    )
    queue.attach(evaluator)
    return Services(settings, store, queue, evaluator, courses)
