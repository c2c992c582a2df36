"""The webhook URL policy reads a host the way the sender's resolver does: legacy IPv4 spellings,
trailing dots and names that resolve to special addresses are all refused."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from threadloom.errors import Unprocessable
from threadloom.services.webhook_policy import normalise_host, validate_webhook_url
from threadloom.settings import Settings

STRICT = Settings(allow_private_network=False)

REFUSED = [
    "127.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "0x7f.1",
    "LOCALHOST.",
    "LocalHost",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "198.18.0.1",  # benchmarking
    "192.168.1.1",
    "10.1",
    "0.0.0.0",
    "0",
    "169.254.169.254",
    "224.0.0.1",
    "240.0.0.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[fd00::1]",
    "[fe80::1]",
]


@pytest.mark.parametrize("host", REFUSED)
def test_special_addresses_refused_however_spelled(host: str) -> None:
    with pytest.raises(Unprocessable):
        validate_webhook_url(f"http://{host}:8080/hook", STRICT, resolve=False)


@pytest.mark.parametrize("host", ["8.8.8.8", "[2606:4700::1111]", "134744072"])
def test_public_addresses_allowed(host: str) -> None:
    validate_webhook_url(f"https://{host}/hook", STRICT, resolve=False)


def test_legacy_forms_normalised() -> None:
    assert normalise_host("0x7f000001") == "127.0.0.1"
    assert normalise_host("0177.0.0.1") == "127.0.0.1"
    assert normalise_host("127.1") == "127.0.0.1"
    assert normalise_host("Example.COM.") == "example.com"
    assert normalise_host("cafe.bad") == "cafe.bad"  # hex-looking names stay names


def test_names_resolved_like_the_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name (hosts file, DNS) that resolves to loopback or CGNAT is refused."""
    table = {"intranet.example": "100.64.3.4", "box": "127.0.1.1", "ok.example": "93.184.216.34"}

    def fake_getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], 0))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    for host in ("intranet.example", "box", "BOX."):
        with pytest.raises(Unprocessable):
            validate_webhook_url(f"http://{host}/hook", STRICT)
    validate_webhook_url("http://ok.example/hook", STRICT)


def test_allowed_domains_match_normalised_host() -> None:
    settings = Settings(webhook_allowed_domains=["hooks.example.com"], allow_private_network=True)
    validate_webhook_url("https://HOOKS.example.com./x", settings, resolve=False)
    with pytest.raises(Unprocessable):
        validate_webhook_url("https://evil.example.com/x", settings, resolve=False)
