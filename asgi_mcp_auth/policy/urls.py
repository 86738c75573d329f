"""Which URLs the package may fetch from or send credentials to."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["is_trusted_url"]


def is_trusted_url(url: object) -> bool:
    """https, or plain http to a loopback address (a service on the same machine): keys fetched
    or client secrets sent in the clear elsewhere can be read or replaced on the way."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False
