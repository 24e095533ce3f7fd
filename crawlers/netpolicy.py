"""The crawl's side of the address policy (pipeline/addresses.py): the resolver's refusal, which
Twisted must see as a failed lookup, and the names refused in this process."""

from __future__ import annotations

from twisted.internet.error import DNSLookupError


class RefusedAddressError(DNSLookupError):
    """A name resolved to an address the crawl may not reach. A DNSLookupError, so Twisted treats
    it as a failed lookup (no address, no connection) instead of a resolver crash."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"{host}: {reason.replace('_', ' ')}")
        self.host = host
        self.reason = reason


# Names the resolver refused in this process, and why. Twisted reports a refused lookup as a
# plain "no address" to the downloader, so SafeAddressMiddleware reads the reason from here
# (one crawl per process, so per-process state is per-crawl state).
REFUSED_NAMES: dict[str, str] = {}
