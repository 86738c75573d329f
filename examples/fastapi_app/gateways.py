"""The example gateway's registry of upstream MCP servers ("gateways") and their tools.

`local` is this app's own MCP server, mounted at `/mcp/`: its tools are listed live. `docs` stands
for an OAuth-protected upstream server reached with delegated tokens; this example has no network,
so its tool list is fixed demo data.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

__all__ = ["FetchRecord", "Gateway", "GatewayRegistry", "ToolInfo", "demo_registry", "static_tools"]


class ToolInfo(TypedDict):
    name: str
    description: str


ToolLister = Callable[[], Awaitable[list[ToolInfo]]]


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """Who last fetched a gateway's tools, and how many there were."""

    subject: str
    tool_count: int
    at: float


@dataclass(slots=True)
class Gateway:
    id: str
    name: str
    url: str
    transport: str
    auth: str
    list_tools: ToolLister
    last_fetch: FetchRecord | None = field(default=None)


class GatewayRegistry:
    """The gateways of one app instance (in memory)."""

    def __init__(self, gateways: Sequence[Gateway]) -> None:
        self._gateways = {gateway.id: gateway for gateway in gateways}

    def __iter__(self) -> Iterator[Gateway]:
        return iter(self._gateways.values())

    def get(self, gateway_id: str) -> Gateway | None:
        return self._gateways.get(gateway_id)

    def fetches(self) -> list[FetchRecord]:
        """The last fetch of every gateway that has been fetched."""
        return [gateway.last_fetch for gateway in self if gateway.last_fetch is not None]

    async def fetch_tools(self, gateway: Gateway, subject: str) -> list[ToolInfo]:
        tools = await gateway.list_tools()
        gateway.last_fetch = FetchRecord(subject=subject, tool_count=len(tools), at=time.time())
        return tools


def static_tools(*tools: ToolInfo) -> ToolLister:
    async def list_tools() -> list[ToolInfo]:
        return list(tools)

    return list_tools


DOCS_TOOLS = static_tools(
    ToolInfo(name="search_docs", description="Full-text search over the product documentation."),
    ToolInfo(name="get_page", description="Fetch one documentation page as Markdown."),
)


def demo_registry(local_tools: ToolLister) -> GatewayRegistry:
    return GatewayRegistry(
        [
            Gateway(
                id="local",
                name="Example MCP server",
                url="/mcp/",
                transport="Streamable HTTP",
                auth="Bearer token (this gateway)",
                list_tools=local_tools,
            ),
            Gateway(
                id="docs",
                name="Docs search (demo data)",
                url="https://docs-mcp.example.com/mcp",
                transport="Streamable HTTP",
                auth="OAuth 2.0 authorization code",
                list_tools=DOCS_TOOLS,
            ),
        ]
    )
