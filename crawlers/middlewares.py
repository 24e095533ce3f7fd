"""Downloader middlewares that apply a source's network policy to every request: pages,
robots.txt, redirects, meta refreshes and images alike (they all pass through here)."""

from __future__ import annotations

import functools
import logging
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import error as twisted_error

from crawlers.context import crawl_context
from crawlers.netpolicy import REFUSED_NAMES, RefusedAddressError
from pipeline.addresses import AddressPolicy, literal_ip, parse_ip

log = logging.getLogger(__name__)


class SafeAddressMiddleware:
    """http(s) only, and never a non-global address unless the source allows it (network or
    address, with its port when the allowance names one).

    Literal addresses are checked here. Names are resolved here too, through the crawl's
    PublicOnlyResolver, which refuses any name that resolves to an address no allowance covers
    and pins the address the connection then uses; the port of a non-global address is checked
    here, where the request's port is known. Behind a proxy the proxy resolves names, so only
    literal addresses can be checked."""

    def __init__(self, crawler: Crawler, policy: AddressPolicy) -> None:
        self.crawler = crawler
        self.policy = policy
        # A crawl asks about the same few hosts for every request: parse each once (bounded, as
        # a hostile page can name any number of them).
        self._literal_refusal = functools.lru_cache(maxsize=4096)(self._literal_refusal_uncached)

    def _literal_refusal_uncached(self, host: str, port: int) -> tuple[bool, str | None]:
        """(whether `host` is a literal address, and if so why it is refused, or None)."""
        ip = literal_ip(host)
        return (False, None) if ip is None else (True, self.policy.refusal(ip, port, host))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SafeAddressMiddleware:
        return cls(crawler, crawl_context(crawler).policy)

    def _refuse(self, reason: str, url: str) -> IgnoreRequest:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"bioleak/refused/{reason}")
        log.warning("refused (%s): %s", reason, url)
        return IgnoreRequest(f"refused ({reason}): {url}")

    async def process_request(self, request: Request) -> None:
        try:
            split = urlsplit(request.url)
            scheme, host, port = split.scheme.lower(), split.hostname or "", split.port
        except ValueError:  # a port that is not a number, a bad IPv6 literal
            raise self._refuse("bad_url", request.url) from None
        if scheme not in ("http", "https"):
            raise self._refuse("scheme", request.url)
        if not host:
            raise self._refuse("no_host", request.url)
        port = port if port is not None else (443 if scheme == "https" else 80)
        literal, reason = self._literal_refusal(host, port)
        if literal:
            if reason:
                raise self._refuse(reason, request.url)
            return
        if "proxy" in request.meta:
            return  # the proxy resolves the name
        if host in REFUSED_NAMES:
            # Resolved before to a forbidden address: refuse without asking DNS again (and
            # without letting the retry middleware try a third time).
            raise self._refuse(REFUSED_NAMES[host], request.url)
        address = await self._resolve(host)
        if address is None:
            return  # the download reports the failed lookup
        ip = parse_ip(address)
        reason = self.policy.refusal(ip, port, host) if ip is not None else None
        if reason:
            raise self._refuse(reason, request.url)

    async def _resolve(self, host: str) -> str | None:
        from twisted.internet import reactor

        try:
            address: str = await maybe_deferred_to_future(reactor.resolve(host))  # type: ignore[arg-type]
        except RefusedAddressError as exc:
            raise self._refuse(exc.reason, host) from None
        except (twisted_error.DNSLookupError, twisted_error.TimeoutError):
            return None
        return address

    def process_exception(self, request: Request, exception: BaseException) -> None:
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
    def from_crawler(cls, crawler: Crawler) -> SourceProxyMiddleware:
        source = crawl_context(crawler).source
        if source is None or not source.proxy:
            raise NotConfigured("the source has no proxy")
        return cls(source.proxy)

    def process_request(self, request: Request) -> None:
        request.meta.setdefault("proxy", self.proxy)
