"""SafeAddressMiddleware: never let a scraped link point the crawler at an internal address.

Every request (pages, redirects, images) is checked: http(s) only, and the host's addresses must
be public unless the source lists their network in `allow_networks`.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified
    )  # fmt: skip


def resolve(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    # Blocking lookup; acceptable while crawls are small (issue 4 moves it off the reactor).
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


class SafeAddressMiddleware:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> SafeAddressMiddleware:
        return cls(crawler)

    def _refuse(self, reason: str, url: str) -> IgnoreRequest:
        self.crawler.stats.inc_value(f"bioleak/refused/{reason}")
        log.warning("refused %s: %s", reason, url)
        return IgnoreRequest(f"refused ({reason}): {url}")

    def process_request(self, request: Any, spider: Any = None) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https"):
            raise self._refuse("scheme", request.url)
        if not parts.hostname:
            raise self._refuse("no_host", request.url)
        allowed: list[IPNetwork] = [
            ipaddress.ip_network(n, strict=False)
            for n in getattr(getattr(self.crawler.spider, "source", None), "allow_networks", ())
        ]
        try:
            addresses = resolve(parts.hostname)
        except (OSError, UnicodeError):
            raise self._refuse("unresolvable", request.url) from None
        for ip in addresses:
            if not is_public(ip) and not any(ip in net for net in allowed):
                raise self._refuse("private_address", request.url)
