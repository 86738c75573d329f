"""Pure decisions about a request, built once from configuration: which credential it carries
(`precedence`), whether a cookie counts (`browser`), what roles grant (`rbac`, `policy_file`) and
what an MCP method needs (`mcp_methods`). Imports only `core`."""
