"""The durability tests' fixtures (`publish`, `queued_app`), reused for the fault tests."""

from tests.durability.conftest import publish, queued_app

__all__ = ["publish", "queued_app"]
