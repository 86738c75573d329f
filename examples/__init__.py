"""Runnable examples (a package so that tests and mypy name modules `examples.<app>.<module>`)."""
