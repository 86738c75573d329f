"""The example MCP gateway built on asgi-mcp-auth: `create_app()` in `main.py`, the demo in
`__main__.py` (`python -m examples.fastapi_app`, or `make demo`)."""
