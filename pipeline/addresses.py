"""Which addresses bioleak may connect to: one policy for crawls, image fetches, thumbnails and
webhooks alike.

Only globally routable addresses (`ipaddress`'s `is_global`: not private, loopback, link-local,
shared 100.64.0.0/10, documentation, benchmarking, reserved, multicast or unspecified), unless an
explicit allowance names the address. An allowance is a network or an address, optionally with a
port (`127.0.0.1:8101`, `10.0.0.0/8:443`, `[::1]:8080`, `lab.internal:8080`), so a lab can allow
exactly its own sites and nothing else that listens on the same address. Cloud metadata services
are named apart in refusals, because reaching one is an attack rather than a typo.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-FxX.]+$")
# A host name with at least one dot ("lab.internal"): a bare word in allow_networks is a typo.
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*$")


def parse_ip(host: str) -> IPAddress | None:
    """The address a host string spells in standard notation (IPv4-mapped IPv6 as its IPv4)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def literal_ip(host: str) -> IPAddress | None:
    """The address a host names without DNS: dotted, IPv6 and bracketed forms, and the decimal,
    hex and octal IPv4 spellings (2852039166, 0xa9fea9fe, 0251.0376.0251.0376) that inet_aton,
    and so the system resolver, accepts."""
    ip = parse_ip(host)
    if ip is None and _NUMERIC_HOST.match(host) and any(c.isdigit() for c in host):
        try:
            ip = parse_ip(socket.inet_ntoa(socket.inet_aton(host)))
        except OSError:
            return None
    return ip


def is_global(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and ip not in METADATA


class AllowanceError(ValueError):
    pass


@dataclass(frozen=True)
class Allowance:
    """A network (or one address, or a host name) reachable despite not being global, on one
    port or on every port (port None)."""

    network: IPNetwork | None
    host: str = ""  # a host name, matched by the request's host (network is None then)
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> Allowance:
        spec = text.strip()
        port: int | None = None
        m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?:/(\d+))?(?::(\d+))?", spec)
        if m:  # [v6] or [v6]/len with an optional port
            target = m.group(1) + (f"/{m.group(2)}" if m.group(2) else "")
            port = int(m.group(3)) if m.group(3) else None
        elif spec.count(":") == 1:  # v4, v4/len, or a name, with a port
            target, _, port_text = spec.partition(":")
            if not port_text.isdigit():
                raise AllowanceError(f"{text!r}: the port after ':' must be a number")
            port = int(port_text)
        else:  # no port (bare IPv6 has several colons)
            target = spec
        if port is not None and not 1 <= port <= 65535:
            raise AllowanceError(f"{text!r}: port {port} is not between 1 and 65535")
        try:
            return cls(ipaddress.ip_network(target, strict=False), port=port)
        except ValueError:
            pass
        if _HOST_NAME.match(target) and "." in target and not target.replace(".", "").isdigit():
            return cls(None, host=target.lower(), port=port)
        raise AllowanceError(
            f"{text!r} is not a network, address or host name with an optional port"
            " (e.g. 127.0.0.1/32, 10.0.0.0/8, 127.0.0.1:8080, [::1]:8080, lab.internal:8080)"
        )

    def covers(self, ip: IPAddress | None, port: int | None, host: str = "") -> bool:
        """Whether this allowance covers a connection to `ip` (and `port`, when known) for `host`.
        With `port` None only the address is asked about (the resolver does not know the port)."""
        if self.port is not None and port is not None and port != self.port:
            return False
        if self.network is not None:
            return ip is not None and ip.version == self.network.version and ip in self.network
        return bool(host) and host.lower() == self.host

    def __str__(self) -> str:
        target = self.host or str(self.network)
        if self.port is None:
            return target
        if self.network is not None and self.network.version == 6:
            target = f"[{target}]"
        return f"{target}:{self.port}"


def parse_allowances(texts: Iterable[str]) -> tuple[Allowance, ...]:
    return tuple(Allowance.parse(t) for t in texts)


@dataclass(frozen=True)
class AddressPolicy:
    allowances: tuple[Allowance, ...] = ()
    trusted_hosts: frozenset[str] = frozenset()  # the operator's own proxy, which resolves names itself

    @classmethod
    def build(cls, allow: Iterable[str] = (), proxy: str = "") -> AddressPolicy:
        from urllib.parse import urlsplit

        host = urlsplit(proxy).hostname if proxy else None
        return cls(parse_allowances(allow), frozenset({host.lower()} if host else ()))

    def refusal(self, ip: IPAddress, port: int | None = None, host: str = "") -> str | None:
        """Why a connection to `ip` (on `port`, for `host`) may not be made, or None if it may.
        With `port` None, an allowance for any port of the address is enough (the caller checks
        the port where it knows it)."""
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(a.covers(ip, port, host) for a in self.allowances):
            return None
        if ip in METADATA:
            return "metadata_address"
        return None if is_global(ip) else "private_address"

    def url_refusal(self, scheme: str, host: str, port: int | None) -> str | None:
        """The checks that need no DNS: scheme, and literal addresses in any spelling."""
        if scheme not in ("http", "https"):
            return "scheme"
        if not host:
            return "no_host"
        ip = literal_ip(host)
        if ip is None:
            return None
        return self.refusal(ip, port if port is not None else (443 if scheme == "https" else 80), host)
