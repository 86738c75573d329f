"""Shared fixtures: keys, tokens and settings for tests of every module."""

from __future__ import annotations

pytest_plugins = ["browser_support"]
