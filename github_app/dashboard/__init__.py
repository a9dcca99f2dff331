"""The instructor dashboard: course overview, group pages, run reports and exports."""

from github_app.dashboard.settings import DASHBOARD_ENV, DashboardSettings
from github_app.dashboard.views import register_dashboard

__all__ = ["DASHBOARD_ENV", "DashboardSettings", "register_dashboard"]
