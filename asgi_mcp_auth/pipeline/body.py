"""Reading a request body the middleware must inspect, and giving it back to the app."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope

from ..core.errors import PayloadTooLarge

__all__ = ["DRAIN_LIMIT", "ClientDisconnected", "drain", "read_body", "replay"]

# A server that answers while the client is still sending may close the connection under it
# (hypercorn and granian do), and the client then sees a reset instead of the 413. Reading on
# a bounded amount first lets the answer arrive; past the bound, a reset is the client's lot.
DRAIN_LIMIT = 8 * 1_048_576


class ClientDisconnected(Exception):
    """The client went away before its whole body arrived: there is no one to answer."""


async def read_body(receive: Receive, limit: int, scope: Scope) -> bytes:
    """Read the whole request body, refusing (413) one longer than `limit` bytes."""
    for name, declared in scope["headers"]:
        # Any declared length over the limit refuses early; the bytes received are what count.
        if name == b"content-length" and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def drain(receive: Receive, limit: int = DRAIN_LIMIT) -> None:
    """Read and discard what is left of the body, at most `limit` bytes of it."""
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields `body` once, byte for byte, then defers to the real one."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
