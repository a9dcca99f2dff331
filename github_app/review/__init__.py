"""The optional AI review: language-model judges (code quality, testing, CI/CD) on a commit.

Off unless `LLM_BASE_URL` and `LLM_MODEL` name an OpenAI-compatible endpoint. Its result
is a second, always-neutral check run (`post_ai_review`) or the `mlops-mentor review`
command; the deterministic check never waits for it or depends on it.
"""

from github_app.review.cache import ReviewCache
from github_app.review.checkrun import post_ai_review
from github_app.review.review import JudgeResult, ReviewOutcome, review_snapshot
from github_app.review.settings import ReviewSettings, ReviewSettingsError

__all__ = [
    "JudgeResult",
    "ReviewCache",
    "ReviewOutcome",
    "ReviewSettings",
    "ReviewSettingsError",
    "post_ai_review",
    "review_snapshot",
]
