"""Leaf disease classifier."""
