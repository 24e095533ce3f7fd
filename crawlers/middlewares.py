"""Downloader middlewares that apply a source's network policy to every request: pages,
robots.txt, redirects, meta refreshes and images alike (they all pass through here)."""

from __future__ import annotations

import functools
import logging
import re
import socket
from typing import Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest, NotConfigured

from crawlers.netpolicy import REFUSED_NAMES, AddressPolicy, IPAddress, RefusedAddressError, parse_ip

log = logging.getLogger(__name__)
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-FxX.]+$")


def literal_ip(host: str) -> IPAddress | None:
    """The address a host names without DNS: dotted, IPv6 and bracketed forms, and the decimal,
    hex and octal IPv4 spellings (2852039166, 0xa9fea9fe, 0251.0376.0251.0376) that
    inet_aton (and so the resolver) accepts."""
    ip = parse_ip(host)
    if ip is None and _NUMERIC_HOST.match(host) and any(c.isdigit() for c in host):
        try:
            ip = parse_ip(socket.inet_ntoa(socket.inet_aton(host)))
        except OSError:
            return None
    return ip


class SafeAddressMiddleware:
    """http(s) only, and never a non-public address unless the source allows its network.

    Literal addresses are checked here; names are checked by PublicOnlyResolver at connection
    time. Behind a proxy the proxy resolves names, so only literal addresses can be checked."""

    def __init__(self, crawler: Any, policy: AddressPolicy) -> None:
        self.crawler = crawler
        self.policy = policy
        # A crawl asks about the same few hosts for every request: parse each once (bounded, as
        # a hostile page can name any number of them).
        self._literal_refusal = functools.lru_cache(maxsize=4096)(self._literal_refusal_uncached)

    def _literal_refusal_uncached(self, host: str) -> tuple[bool, str | None]:
        """(whether `host` is a literal address, and if so why it is refused, or None)."""
        ip = literal_ip(host)
        return (False, None) if ip is None else (True, self.policy.refusal(ip))

    @classmethod
    def from_crawler(cls, crawler: Any) -> SafeAddressMiddleware:
        return cls(crawler, AddressPolicy.from_settings(crawler.settings))

    def _refuse(self, reason: str, url: str) -> IgnoreRequest:
        self.crawler.stats.inc_value(f"bioleak/refused/{reason}")
        log.warning("refused (%s): %s", reason, url)
        return IgnoreRequest(f"refused ({reason}): {url}")

    def process_request(self, request: Any, spider: Any = None) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https"):
            raise self._refuse("scheme", request.url)
        if not parts.hostname:
            raise self._refuse("no_host", request.url)
        literal, reason = self._literal_refusal(parts.hostname)
        if literal:
            if reason:
                raise self._refuse(reason, request.url)
        elif parts.hostname in REFUSED_NAMES and "proxy" not in request.meta:
            # Resolved before to a forbidden address: refuse without asking DNS again (and
            # without letting the retry middleware try a third time).
            raise self._refuse(REFUSED_NAMES[parts.hostname], request.url)

    def process_exception(self, request: Any, exception: BaseException, spider: Any = None) -> None:
        if isinstance(exception, IgnoreRequest):
            return  # our own refusal from process_request, already counted
        host = (urlsplit(request.url).hostname or "").lower()
        if isinstance(exception, RefusedAddressError):
            raise self._refuse(exception.reason, request.url) from None
        if host in REFUSED_NAMES and "proxy" not in request.meta:  # the lookup failed because we refused it
            raise self._refuse(REFUSED_NAMES[host], request.url) from None


class SourceProxyMiddleware:
    """Send every request of the crawl through the source's HTTP proxy (e.g. a Tor bridge)."""

    def __init__(self, proxy: str) -> None:
        self.proxy = proxy

    @classmethod
    def from_crawler(cls, crawler: Any) -> SourceProxyMiddleware:
        proxy = crawler.settings.get("BIOLEAK_PROXY")
        if not proxy:
            raise NotConfigured("the source has no proxy")
        return cls(proxy)

    def process_request(self, request: Any, spider: Any = None) -> None:
        request.meta.setdefault("proxy", self.proxy)
