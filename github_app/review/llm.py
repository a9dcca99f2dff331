"""A small client for OpenAI-compatible chat completions (Ollama, vLLM, a university gateway).

Only `POST {base}/chat/completions` is used, with `response_format: json_object`; httpx
does the HTTP. Errors become sentences a student can read: they never hold the API key,
the endpoint's URL (which may carry credentials) or the endpoint's own error text.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from github_app.review.settings import ReviewSettings

USER_AGENT = "mlops-mentor"
# The answer is a JSON object of at most ~10 suggestions and 200 words: far below this.
MAX_ANSWER_TOKENS = 2000

Message = dict[str, str]


class LLMError(Exception):
    """The endpoint failed (down, slow, refusing); `str()` is one sentence, free of secrets."""


class InvalidAnswer(Exception):
    """The reply is not a usable answer (no text, no JSON, not valid); `str()` says why."""


class ChatClient:
    """One connection pool to the endpoint, for the judges of one review."""

    def __init__(self, settings: ReviewSettings) -> None:
        headers = {"User-Agent": USER_AGENT}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self.model = settings.model
        self.timeout = settings.timeout
        self._url = f"{settings.base_url}/chat/completions"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(settings.timeout, connect=min(10.0, settings.timeout)),
        )

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def complete(self, messages: list[Message]) -> str:
        """The model's reply to `messages`, asked for as one JSON object."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "response_format": {"type": "json_object"},
            # Scores should not change from one push to the next by chance.
            "temperature": 0,
            "max_tokens": MAX_ANSWER_TOKENS,
            "stream": False,
        }
        try:
            response = self._client.post(self._url, json=body)
        except httpx.TimeoutException:
            raise LLMError(f"The model did not answer within {self.timeout:g} seconds.") from None
        except httpx.HTTPError as exc:
            raise LLMError(
                f"The model's endpoint could not be reached ({type(exc).__name__})."
            ) from None
        if response.status_code != 200:
            raise LLMError(f"The model's endpoint answered HTTP {response.status_code}.")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, LookupError, TypeError):
            raise InvalidAnswer("the reply is not a chat completion") from None
        if not isinstance(content, str) or not content.strip():
            raise InvalidAnswer("the reply holds no text")
        return content
