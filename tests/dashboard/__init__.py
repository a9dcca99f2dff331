"""Tests of the instructor dashboard."""
