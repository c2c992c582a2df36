"""Which outbound URLs a run may ask us to call back (webhooks, Letta callback_url).

A webhook makes the server send a request on the caller's behalf, so by default it may not reach
loopback, private or link-local addresses (SSRF). Checked when the run is created (422), and
again when sending, since DNS can change in between.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from threadloom.errors import Unprocessable
from threadloom.settings import Settings

MAX_URL_LENGTH = 2048


def _host_allowed(host: str, allowed_domains: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for pattern in allowed_domains:
        pattern = pattern.lower().rstrip(".")
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) or host == pattern[2:]:
                return True
        elif host == pattern:
            return True
    return False


def _forbidden_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def _literal_address(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return []


def resolve_addresses(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


def validate_webhook_url(url: str, settings: Settings, *, resolve: bool = True) -> None:
    """Raise Unprocessable (422) if `url` may not be called back."""
    if len(url) > MAX_URL_LENGTH:
        raise Unprocessable(f"Webhook URL is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unprocessable("Webhook URL must be an absolute http(s) URL")
    if settings.webhook_require_https and parts.scheme != "https":
        raise Unprocessable("Webhook URL must use https")
    host = parts.hostname
    if settings.webhook_allowed_domains and not _host_allowed(
        host, settings.webhook_allowed_domains
    ):
        raise Unprocessable(f"Webhook host {host!r} is not in the allowed domains")
    if settings.allow_private_network:
        return
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        raise Unprocessable("Webhook URL may not point at loopback addresses")
    if not resolve:
        addresses = _literal_address(host)  # an IP literal needs no DNS to be refused
    else:
        addresses = resolve_addresses(host)
    for address in addresses:
        if _forbidden_address(address):
            raise Unprocessable(
                f"Webhook URL resolves to a loopback, private or link-local address ({address}); "
                "set THREADLOOM_ALLOW_PRIVATE_NETWORK=true to allow it for local testing"
            )
