"""The one address policy: global addresses only, unless an allowance names the network or the
address, with its port when it gives one."""

from __future__ import annotations

import ipaddress

import pytest

from pipeline.addresses import AddressPolicy, Allowance, AllowanceError, is_global, literal_ip


@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.1.1", "100.64.0.1", "100.127.255.254",
     "0.0.0.0", "224.0.0.1", "192.0.2.1", "198.18.0.1", "240.0.0.1", "::1", "fe80::1", "fc00::1", "ff02::1",
     "::ffff:10.0.0.1", "2001:db8::1"],
)  # fmt: skip
def test_non_global_addresses_are_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert not is_global(ip)
    assert AddressPolicy().refusal(ip) == "private_address"


def test_shared_address_space_and_metadata_services() -> None:
    policy = AddressPolicy()
    assert policy.refusal(ipaddress.ip_address("100.64.12.7")) == "private_address"  # CGNAT is not public
    assert policy.refusal(ipaddress.ip_address("100.100.100.200")) == "metadata_address"
    assert policy.refusal(ipaddress.ip_address("169.254.169.254")) == "metadata_address"
    assert policy.refusal(ipaddress.ip_address("93.184.216.34")) is None


@pytest.mark.parametrize(
    ("text", "network", "port"),
    [("127.0.0.1/32", "127.0.0.1/32", None), ("127.0.0.1:8101", "127.0.0.1/32", 8101),
     ("10.0.0.0/8:443", "10.0.0.0/8", 443), ("[::1]:8080", "::1/128", 8080), ("fd00::/8", "fd00::/8", None),
     ("[fd00::]/8:9000", "fd00::/8", 9000)],
)  # fmt: skip
def test_allowances_parse_networks_addresses_and_ports(text: str, network: str, port: int | None) -> None:
    allowance = Allowance.parse(text)
    assert str(allowance.network) == network and allowance.port == port


@pytest.mark.parametrize("text", ["not-a-net", "10.0.0.0/33", "127.0.0.1:0", "127.0.0.1:99999", "127.0.0.1:http", ""])
def test_bad_allowances_are_errors(text: str) -> None:
    with pytest.raises(AllowanceError):
        Allowance.parse(text)


def test_a_host_and_port_allowance_admits_that_port_alone() -> None:
    policy = AddressPolicy.build(["127.0.0.1:8101", "lab.internal:8443"])
    loopback = ipaddress.ip_address("127.0.0.1")
    assert policy.refusal(loopback, 8101) is None
    assert policy.refusal(loopback, 8107) == "private_address"  # a second port on the same address
    assert policy.refusal(loopback, None) is None  # the resolver, which knows no port, lets the name through
    assert policy.refusal(ipaddress.ip_address("10.9.9.9"), 8443, "lab.internal") is None
    assert policy.refusal(ipaddress.ip_address("10.9.9.9"), 8443, "other.internal") == "private_address"


def test_url_refusal_reads_literal_addresses_in_every_spelling() -> None:
    policy = AddressPolicy()
    for host in ("169.254.169.254", "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "[::ffff:169.254.169.254]"):
        assert policy.url_refusal("http", host.strip("[]"), None) == "metadata_address", host
    assert policy.url_refusal("ftp", "example.com", None) == "scheme"
    assert policy.url_refusal("https", "", None) == "no_host"
    assert policy.url_refusal("https", "example.com", None) is None  # a name: the resolver decides
    assert literal_ip("example.com") is None
