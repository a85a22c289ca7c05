"""Outbound HTTP to an address a third party gave us (an app's JWKS URI): the SSRF guard.

A registered URL is the app's, not ours, so fetching it must not become a way into our network:

- production: https only; every address the host resolves to must be public (no loopback,
  private, link-local, CGNAT, multicast or reserved range), and the connection goes to the
  address that was checked (pinned; SNI and the certificate check still use the host name), so
  a second DNS answer cannot swap in an internal address between the check and the connect;
- outside production loopback is allowed too, over http or https (tests, the sandbox, a
  developer's laptop); any other non-public address is refused there as well;
- everywhere: no redirects, a time limit on the whole exchange, a size cap read as a stream.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchRefused(Exception):
    """The URL may not be fetched, or its answer was refused (the reason is safe to show)."""


@dataclass(frozen=True, slots=True)
class FetchLimits:
    timeout_seconds: float = 3.0  # the whole exchange, connect to last byte
    max_bytes: int = 64 * 1024  # a JWKS of a few keys is 1-5 KiB


def check_url(url: object, *, production: bool) -> SplitResult:
    """The URL's parts, or ``FetchRefused`` saying why it can never be fetched (scheme, form,
    an address literal in a refused range). Host names are resolved only when fetching."""
    if not isinstance(url, str) or len(url) > 500:
        raise FetchRefused("a URL of at most 500 characters")
    parts = urlsplit(url)
    if parts.fragment or parts.username or parts.password or not parts.hostname:
        raise FetchRefused("an absolute URL without credentials or a fragment")
    if parts.scheme not in ("https", "http"):
        raise FetchRefused("the URL must use https")
    literal = _literal(parts.hostname)
    loopback = parts.hostname == "localhost" or (literal is not None and literal.is_loopback)
    if parts.scheme == "http" and (production or not loopback):
        raise FetchRefused("the URL must use https")
    if literal is not None:
        _allowed(literal, production=production)
    return parts


def fetch(
    url: str,
    *,
    production: bool,
    limits: FetchLimits = FetchLimits(),
    transport: httpx.BaseTransport | None = None,
) -> bytes:
    """The body of a 200 answer to ``GET url`` within ``limits``, or ``FetchRefused``."""
    target = pin(url, production=production)
    deadline = time.monotonic() + limits.timeout_seconds
    body = bytearray()
    try:
        with (
            httpx.Client(
                transport=transport, timeout=limits.timeout_seconds, follow_redirects=False
            ) as http,
            http.stream(
                "GET",
                target.url,
                headers=target.headers | {"Accept": "application/json"},
                extensions=target.extensions,
            ) as answer,
        ):
            if answer.status_code != 200:
                raise FetchRefused(f"answered HTTP {answer.status_code}")
            declared = answer.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
                raise FetchRefused(f"larger than {limits.max_bytes} bytes")
            for chunk in answer.iter_raw():
                body.extend(chunk)
                if len(body) > limits.max_bytes:
                    raise FetchRefused(f"larger than {limits.max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise FetchRefused(f"no full answer within {limits.timeout_seconds} s")
    except httpx.HTTPError as exc:
        raise FetchRefused(f"could not be fetched ({type(exc).__name__})") from None
    return bytes(body)


@dataclass(frozen=True, slots=True)
class Pinned:
    """A request's target connected to the checked address, the name kept for the ``Host``
    header, SNI and the certificate check (httpx's ``sni_hostname`` extension)."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, str]


def pin(url: str, *, production: bool) -> Pinned:
    """Check ``url`` and resolve its host now (every address must be allowed); where to
    connect, or ``FetchRefused``. Also for POSTs (webhooks): any request to a URL a third
    party gave us goes through here."""
    parts = check_url(url, production=production)
    host = parts.hostname
    assert host is not None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _resolve(host, port, production=production)
    pinned = urlunsplit(
        (parts.scheme, _netloc(address, parts.port), parts.path or "/", parts.query, "")
    )
    return Pinned(pinned, {"Host": parts.netloc}, {"sni_hostname": host})


def _resolve(host: str, port: int, *, production: bool) -> _Address:
    literal = _literal(host)
    if literal is not None:
        return literal
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise FetchRefused(f"the host {host} does not resolve") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise FetchRefused(f"the host {host} does not resolve")
    for address in addresses:  # every answer: a mixed one is refused whole
        _allowed(address, production=production)
    return addresses[0]


def _allowed(address: _Address, *, production: bool) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback and not production:
        return
    if not address.is_global or address.is_multicast:
        raise FetchRefused(f"the address {address} is not a public one")


def _literal(host: str) -> _Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _netloc(address: _Address, port: int | None) -> str:
    shown = f"[{address}]" if address.version == 6 else str(address)
    return shown if port is None else f"{shown}:{port}"
