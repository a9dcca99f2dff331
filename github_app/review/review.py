"""One AI review: every judge of the profile on one snapshot, through the cache and budget.

The steps: build each judge's context, look its answer up in the cache, count the commit
against the installation's daily budget if any judge must ask the model, ask (once more
after an unusable answer), then place the suggestions on lines that exist. An endpoint
that is down or too slow stops the review (the other judges would wait just as long);
an unusable answer only costs its own judge.
"""

from __future__ import annotations

import hashlib
import time
from typing import Literal

from pydantic import BaseModel, Field

from checks.engine import read_repo_config
from checks.models import Annotation
from checks.profile import Profile, ReviewJudge
from checks.snapshot import Snapshot
from github_app.review.cache import ReviewCache
from github_app.review.context import JudgeContext, build_context
from github_app.review.judges import (
    JudgeAnswer,
    parse_answer,
    place_suggestions,
    retry_messages,
    system_prompt,
    user_prompt,
)
from github_app.review.llm import ChatClient, InvalidAnswer, LLMError, Message
from github_app.review.settings import ReviewSettings


class JudgeResult(BaseModel):
    """One judge's verdict on one commit, or why there is none."""

    id: str
    title: str
    answer: JudgeAnswer | None = None
    problem: str | None = None
    cached: bool = False
    annotations: list[Annotation] = Field(default_factory=list)
    # Suggestions pointing at a file or line that does not exist, left out.
    dropped: int = 0
    files_sent: int = 0
    tokens_sent: int = 0
    # Relevant files holding a credential (never sent) and files over the budget.
    withheld: list[str] = Field(default_factory=list)
    left_out: list[str] = Field(default_factory=list)


class ReviewOutcome(BaseModel):
    """The whole review: each judge's result and what happened on the way."""

    model: str
    judges: list[JudgeResult]
    # Why (some) judges have no answer: the endpoint failed, or the daily budget is spent.
    problem: str | None = None
    over_budget: bool = False
    requests: int = 0
    duration_ms: int = 0

    @property
    def state(self) -> Literal["complete", "partial", "failed"]:
        answered = sum(1 for j in self.judges if j.answer is not None)
        if answered == len(self.judges):
            return "complete"
        return "partial" if answered else "failed"

    def annotations(self) -> list[Annotation]:
        return [a for judge in self.judges for a in judge.annotations]


def cache_key(model: str, messages: list[Message]) -> str:
    """A hash of the model and every word it is sent: instructions, rubric, files."""
    digest = hashlib.sha256(model.encode())
    for message in messages:
        digest.update(b"\0" + message["role"].encode() + b"\0" + message["content"].encode())
    return digest.hexdigest()


def _ask(client: ChatClient, messages: list[Message], outcome: ReviewOutcome) -> JudgeAnswer | str:
    """The validated answer, or why the reply was unusable twice (counting the calls).

    `LLMError` (endpoint down, timeout, HTTP error) propagates: asking again would not help.
    """
    reply, reason = "", ""
    for attempt in range(2):
        conversation = messages if attempt == 0 else messages + retry_messages(reply, reason)
        outcome.requests += 1
        try:
            reply = client.complete(conversation)
            return parse_answer(reply)
        except InvalidAnswer as exc:
            reason = str(exc)
    return reason


def _within_budget(cache: ReviewCache | None, installation: int | None, limit: int) -> bool:
    """Count one judged commit for the installation; False when today's budget is spent."""
    if cache is None or installation is None:
        return True
    return cache.spend(installation, limit)


def review_snapshot(
    snapshot: Snapshot,
    profile: Profile,
    settings: ReviewSettings,
    *,
    cache: ReviewCache | None = None,
    installation: int | None = None,
) -> ReviewOutcome:
    """Run every judge of `profile.review` on `snapshot`.

    With a cache, known answers are reused and stored; with an installation too, a commit
    that needs the model counts against `settings.daily_commits`.
    """
    started = time.perf_counter()
    repo_config, _ = read_repo_config(snapshot)
    # The same files the main check reads: the course's and the group's exclusions apply.
    view = snapshot.excluding(profile.exclude).excluding(repo_config.exclude)
    outcome = ReviewOutcome(model=settings.model, judges=[])
    plans: list[tuple[ReviewJudge, JudgeResult, JudgeContext, list[Message], str]] = []
    for judge_id, judge in profile.review.items():
        context = build_context(view, judge.reads, settings.context_tokens, full=snapshot)
        messages = [
            {"role": "system", "content": system_prompt(judge, profile.title)},
            {"role": "user", "content": user_prompt(context.text, judge)},
        ]
        result = JudgeResult(
            id=judge_id,
            title=judge.title,
            files_sent=len(context.sent),
            tokens_sent=context.tokens,
            withheld=context.withheld,
            left_out=context.left_out,
        )
        key = cache_key(settings.model, messages)
        result.answer = cache.get(key) if cache else None
        result.cached = result.answer is not None
        outcome.judges.append(result)
        plans.append((judge, result, context, messages, key))

    pending = [plan for plan in plans if plan[1].answer is None]
    # Only a commit that needs the model counts; fully cached ones are free.
    if pending and not _within_budget(cache, installation, settings.daily_commits):
        outcome.over_budget = True
        outcome.problem = (
            f"This course's daily limit of {settings.daily_commits} AI-reviewed commits "
            "is reached; commits pushed after midnight (UTC) are reviewed again."
        )
    if pending and not outcome.over_budget:
        with ChatClient(settings) as client:
            for _judge, result, _context, messages, key in pending:
                if outcome.problem is not None:
                    break
                try:
                    answer = _ask(client, messages, outcome)
                except LLMError as exc:
                    outcome.problem = str(exc)
                    break
                if isinstance(answer, str):
                    result.problem = (
                        f"The model's answer could not be used, even when asked again ({answer})."
                    )
                    continue
                result.answer = answer
                if cache is not None:
                    cache.put(key, answer)

    for rank, (judge, result, context, _messages, _key) in enumerate(plans):
        if result.answer is None:
            result.problem = result.problem or outcome.problem
            continue
        result.annotations, result.dropped = place_suggestions(
            result.answer, judge, view, context.sent, rank=rank
        )
    outcome.duration_ms = round((time.perf_counter() - started) * 1000)
    return outcome
