"""PublicOnlyResolver: the reactor's DNS resolver, refusing names that resolve to addresses the
crawl may not reach. Twisted connects to exactly the address this returns, so the check and
the connection cannot disagree (no DNS-rebinding window, unlike checking in a middleware and
letting the downloader resolve again)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from twisted.internet import defer
from twisted.internet.base import ThreadedResolver
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

from crawlers.context import context_for_settings
from crawlers.netpolicy import REFUSED_NAMES, RefusedAddressError
from pipeline.addresses import AddressPolicy, parse_ip


@implementer(IResolverSimple)
class PublicOnlyResolver(ThreadedResolver):
    def __init__(self, reactor: Any, policy: AddressPolicy, *, timeout: float, cache_size: int = 10_000) -> None:
        super().__init__(reactor)
        self.policy = policy
        self.timeout = timeout
        self.cache_size = cache_size
        self._cache: OrderedDict[str, str] = OrderedDict()

    @classmethod
    def from_crawler(cls, process: Any, reactor: Any) -> PublicOnlyResolver:
        # Built from the CrawlerProcess (its settings), before the crawl's Crawler exists.
        settings = process.settings
        return cls(reactor, context_for_settings(settings).policy, timeout=settings.getfloat("DNS_TIMEOUT"))

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)  # type: ignore[arg-type]  # zope's @implementer is invisible to mypy

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        if name in self._cache:
            self._cache.move_to_end(name)
            return defer.succeed(self._cache[name])
        d = super().getHostByName(name, (self.timeout,))  # type: ignore[arg-type]
        d.addCallback(self._check, name)
        return d

    def _check(self, address: str, name: str) -> str:
        ip = parse_ip(address)
        trusted = name.lower() in self.policy.trusted_hosts
        # The port is not known here: an allowance for any port of the address lets the name
        # through, and SafeAddressMiddleware checks the request's port against it.
        reason = None if trusted or ip is None else self.policy.refusal(ip, None, name)
        if reason:
            REFUSED_NAMES[name.lower()] = reason
            raise RefusedAddressError(name, reason)
        self._cache[name] = address
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return address
