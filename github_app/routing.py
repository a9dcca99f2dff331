"""Deliveries routed to small handlers registered by `(event, action)`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from github_app.payloads import describe_invalid

if TYPE_CHECKING:
    from github_app.services import Services

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Delivery:
    """One verified webhook delivery."""

    id: str
    event: str
    action: str | None
    payload: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.event}.{self.action}" if self.action else self.event

    def parse(self, model: type[M]) -> M:
        """The fields a handler uses, or `InvalidPayload` naming the missing ones."""
        try:
            return model.model_validate(self.payload)
        except ValidationError as exc:
            raise InvalidPayload(f"{self.name} payload: {describe_invalid(exc)}") from None


class InvalidPayload(Exception):
    """A signed delivery without a field we need: answered 400 with this message."""


@dataclass(frozen=True)
class Reply:
    """What the endpoint answers GitHub; shown in the app's "Recent Deliveries"."""

    status: int
    outcome: str
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "detail": self.detail, **self.extra}


Handler = Callable[[Delivery, "Services"], Reply]


class Router:
    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str | None], Handler] = {}

    def on(self, event: str, *actions: str) -> Callable[[Handler], Handler]:
        """Register a handler for `event` with one of `actions` (none: any action)."""

        def register(handler: Handler) -> Handler:
            for action in actions or (None,):
                key = (event, action)
                if key in self._handlers:
                    raise ValueError(f"two handlers for {event} {action or '(any action)'}")
                self._handlers[key] = handler
            return handler

        return register

    def dispatch(self, delivery: Delivery, services: Services) -> Reply:
        handler = self._handlers.get((delivery.event, delivery.action)) or self._handlers.get(
            (delivery.event, None)
        )
        if handler is None:
            return Reply(202, "ignored", f"nothing to do for {delivery.name}")
        try:
            return handler(delivery, services)
        except InvalidPayload as exc:
            return Reply(400, "invalid", str(exc))
