"""Which outbound URLs a run may ask us to call back (webhooks, Letta callback_url).

A webhook makes the server send a request on the caller's behalf, so by default it may reach
only globally routable addresses (SSRF): not loopback, private, link-local, CGNAT
(100.64.0.0/10) or any other special-purpose range `ipaddress` knows. Checked when the run is
created (422), and again when sending, since DNS can change in between.

The host is read the way the sender's resolver reads it, not as it is spelled: the C resolver
(`getaddrinfo`, which httpx uses) takes the legacy IPv4 forms `inet_aton` accepts — `127.1`,
`2130706433`, `0x7f000001`, `0177.0.0.1` — and ignores a trailing dot, and a name is looked up
like the sender will (hosts file included), so a name for a loopback address is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from threadloom.errors import Unprocessable
from threadloom.settings import Settings

MAX_URL_LENGTH = 2048


def normalise_host(host: str) -> str:
    """The host as the resolver sees it: lower case, no trailing dot, an IP literal in its
    canonical form (including the legacy IPv4 spellings `inet_aton` accepts)."""
    host = host.lower().rstrip(".")
    literal = _literal_address(host)
    return literal[0] if literal else host


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


def forbidden_address(address: str) -> bool:
    """Anything but a globally routable unicast address (an IPv4-mapped IPv6 address is judged
    by its IPv4 address)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _literal_address(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefx." for c in host):  # numbers only: inet_aton's forms
        try:
            return [socket.inet_ntoa(socket.inet_aton(host))]
        except OSError:
            return []
    return []


def resolve_addresses(host: str) -> list[str]:
    literal = _literal_address(host)
    if literal:
        return literal
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


async def check_webhook(url: str, settings: Settings) -> None:
    """`validate_webhook_url` for a request that carries a webhook (a run, a cron): with the
    private network allowed only the URL's shape, else the host resolved as the sender will
    (hosts file, DNS), off the event loop."""
    if settings.allow_private_network:  # no lookup needed
        validate_webhook_url(url, settings, resolve=False)
    else:
        await asyncio.to_thread(validate_webhook_url, url, settings)


def validate_webhook_url(url: str, settings: Settings, *, resolve: bool = True) -> None:
    """Raise Unprocessable (422) if `url` may not be called back."""
    if len(url) > MAX_URL_LENGTH:
        raise Unprocessable(f"Webhook URL is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unprocessable("Webhook URL must be an absolute http(s) URL")
    if settings.webhook_require_https and parts.scheme != "https":
        raise Unprocessable("Webhook URL must use https")
    host = normalise_host(parts.hostname)
    if settings.webhook_allowed_domains and not _host_allowed(
        host, settings.webhook_allowed_domains
    ):
        raise Unprocessable(f"Webhook host {host!r} is not in the allowed domains")
    if settings.allow_private_network:
        return
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        raise Unprocessable("Webhook URL may not point at loopback addresses")
    if not resolve:
        addresses = _literal_address(host)  # an IP literal needs no DNS to be refused
    else:
        addresses = resolve_addresses(host)
    for address in addresses:
        if forbidden_address(address):
            raise Unprocessable(
                f"Webhook URL resolves to an address that is not publicly routable ({address}); "
                "set THREADLOOM_ALLOW_PRIVATE_NETWORK=true to allow it for local testing"
            )
