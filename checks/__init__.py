"""mlops-mentor's criteria engine: a repository snapshot and a profile in, a `Report` out.

Pure by design: no network, no GitHub, and nothing from the repository is ever executed.
"""

from checks.engine import evaluate
from checks.models import Annotation, Conclusion, CriterionResult, Level, Report, Severity, Status
from checks.profile import CourseConfig, Profile, load_course_config, load_profile
from checks.registry import Context, Outcome, criterion
from checks.snapshot import Snapshot

__all__ = [
    "Annotation",
    "Conclusion",
    "Context",
    "CourseConfig",
    "CriterionResult",
    "Level",
    "Outcome",
    "Profile",
    "Report",
    "Severity",
    "Snapshot",
    "Status",
    "criterion",
    "evaluate",
    "load_course_config",
    "load_profile",
]
