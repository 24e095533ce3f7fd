"""Which addresses a crawl may connect to. Shared by the DNS resolver (which pins the address
the connection will use) and SafeAddressMiddleware (which checks literal IPs and schemes)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from twisted.internet.error import DNSLookupError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata services, named separately in stats because reaching one is an attack, not a typo.
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)


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


def parse_ip(host: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_public(ip: IPAddress) -> bool:
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified or ip in METADATA
    )  # fmt: skip


@dataclass(frozen=True)
class AddressPolicy:
    allow_networks: tuple[IPNetwork, ...] = ()
    trusted_hosts: frozenset[str] = frozenset()  # the operator's own proxy

    @classmethod
    def build(cls, networks: Iterable[str] = (), proxy: str = "") -> AddressPolicy:
        host = urlsplit(proxy).hostname if proxy else None
        return cls(
            tuple(ipaddress.ip_network(n, strict=False) for n in networks),
            frozenset({host.lower()} if host else ()),
        )

    @classmethod
    def from_settings(cls, settings: Any) -> AddressPolicy:
        """The policy of the source this process crawls (BIOLEAK_SOURCE in BIOLEAK_SOURCES)."""
        from crawlers.sources import load_sources

        path, name = settings.get("BIOLEAK_SOURCES"), settings.get("BIOLEAK_SOURCE")
        if not path or not name:
            return cls()  # no source named: public internet only
        source = load_sources(path).get(name)
        if source is None:
            return cls()
        return cls.build(source.allow_networks, source.proxy)

    def refusal(self, ip: IPAddress) -> str | None:
        """Why `ip` may not be reached, or None if it may."""
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.allow_networks):
            return None
        if ip in METADATA:
            return "metadata_address"
        return None if is_public(ip) else "private_address"
