"""Requests the server sends to a URL a tenant's staff chose (a record portal): only http
or https, only to addresses on the public internet, and no redirect elsewhere. Without
this a tenant's staff could point the server at the services beside it (the database,
Redis, a cloud's metadata address) and have it fetch from them every day.

A host the operator names in OUTBOUND_PRIVATE_HOSTS (an on-premises portal) may resolve
to a private address. The name is checked when the request is made, so a host that
resolves elsewhere later is checked again; a host changing its address between the check
and the connection (DNS rebinding) is not covered."""

import ipaddress
import socket
import urllib.request
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings


class OutboundRefused(ValueError):
    """The URL may not be fetched: its scheme, or an address its host resolves to."""


def outbound_url_check(url: str) -> None:
    """Raise OutboundRefused unless `url` is http(s) to a host whose every address is a
    public one (or a host the operator allowed)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"not a URL: {url!r}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused(f"only http and https URLs are fetched, not {url!r}")
    host = parts.hostname.lower()
    if host in {h.lower() for h in settings.OUTBOUND_PRIVATE_HOSTS}:
        return
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise OutboundRefused(f"{host}: cannot be resolved ({exc})") from exc
    addresses = {str(info[4][0]) for info in infos}
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global:
            raise OutboundRefused(f"{host} resolves to {ip}, which is not a public address")


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is followed only to a URL that passes the same check."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        outbound_url_check(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def outbound_open(request: urllib.request.Request, *, timeout: float) -> Any:
    """urllib's urlopen for a URL a tenant chose: checked first, redirects checked too."""
    outbound_url_check(request.full_url)
    return urllib.request.build_opener(_CheckedRedirects).open(request, timeout=timeout)
