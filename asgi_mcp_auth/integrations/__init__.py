"""Optional integrations: the `mcp` SDK, FastAPI."""
