"""The results store: history of evaluations and pushes, and idempotent webhook deliveries."""

from github_app.store.models import SCHEMA_VERSION, EvaluationStatus
from github_app.store.store import (
    DEFAULT_RETENTION_DAYS,
    AcceptedJob,
    ClaimedEvaluation,
    CommitRecord,
    EvaluationRecord,
    InstallationRecord,
    InstallationRemoved,
    MigrationResult,
    PurgeCounts,
    PushedCommit,
    RepositoryInfo,
    Store,
    StoreError,
    database_url,
)

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "SCHEMA_VERSION",
    "AcceptedJob",
    "ClaimedEvaluation",
    "CommitRecord",
    "EvaluationRecord",
    "EvaluationStatus",
    "InstallationRecord",
    "InstallationRemoved",
    "MigrationResult",
    "PurgeCounts",
    "PushedCommit",
    "RepositoryInfo",
    "Store",
    "StoreError",
    "database_url",
]
