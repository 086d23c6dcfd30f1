"""Where the notifier may send: every address a channel's host resolves to is checked at
connect time, and loopback, private, link-local (cloud metadata), CGNAT, multicast and
reserved addresses are refused unless CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS lists them."""
from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS"
CGNAT = ipaddress.ip_network("100.64.0.0/10")
HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")

# The first class an address falls in names it in the refusal; order matters (169.254.x is
# also "not global", but "link-local" is what a person needs to read).
CLASSES: list[tuple[str, object]] = [
    ("a loopback address", lambda ip: ip.is_loopback),
    ("a link-local address (cloud metadata services live at 169.254.169.254)",
     lambda ip: ip.is_link_local),
    ("the unspecified address", lambda ip: ip.is_unspecified),
    ("a multicast address", lambda ip: ip.is_multicast),
    ("a shared (CGNAT) address", lambda ip: ip in CGNAT),
    ("a reserved address", lambda ip: ip.is_reserved),
    ("a private address", lambda ip: ip.is_private),
    ("a non-public address", lambda ip: not ip.is_global),
]


class DestinationRefused(Exception):
    """A channel's destination is an internal address the allow-list does not cover."""


def embedded_ipv4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), else the address itself:
    ::ffff:127.0.0.1 must be judged as 127.0.0.1."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


@dataclass(frozen=True)
class EgressPolicy:
    """The allow-list: networks (CIDR) whose addresses may be reached although internal, and
    host names whose addresses are not checked at all (on-premises receivers)."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, text: str) -> "EgressPolicy":
        networks, hosts = [], set()
        for entry in filter(None, (part.strip() for part in (text or "").split(","))):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if not HOSTNAME.match(entry.lower()):
                raise ValueError(f"{ALLOW_SETTING}: {entry!r} is neither a network in CIDR "
                                 "form (10.0.0.0/8, 127.0.0.1/32) nor a host name")
            hosts.add(entry.lower())
        return cls(tuple(networks), frozenset(hosts))

    def __str__(self) -> str:
        return ",".join([*map(str, self.networks), *sorted(self.hosts)]) or "(empty)"

    def host_allowed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def refusal(self, address: str | IPAddress) -> str | None:
        """Why this address may not be reached, or None when it may."""
        ip = ipaddress.ip_address(address)
        if any(ip in net for net in self.networks if net.version == ip.version):
            return None
        judged = embedded_ipv4(ip)
        if judged is not ip and any(judged in n for n in self.networks if n.version == 4):
            return None
        for what, test in CLASSES:
            if test(judged):  # type: ignore[operator]
                return (f"{ip} is {what}; the notifier only sends to public addresses unless "
                        f"{ALLOW_SETTING} lists it")
        return None

    def check_resolved(self, host: str, addresses: list[str]) -> None:
        """Refuse a host if any address it resolved to is refused: a name that also points
        inside is not trusted with the outside ones."""
        if self.host_allowed(host):
            return
        for address in addresses:
            why = self.refusal(address)
            if why is not None:
                named = "" if host == address else f"{host} resolves to "
                raise DestinationRefused(f"destination refused: {named}{why}")

    def literal_refusal(self, url: str) -> str | None:
        """Why a URL whose host is an IP literal may not be reached (checked when a channel
        is defined; host names are checked when resolved, at send time)."""
        host = urlsplit(url).hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if _ipv4_shorthand(host):
                return (f"{host} is an IPv4 address in shorthand; write it in full "
                        "dotted form (a.b.c.d)")
            return None
        return self.refusal(host)


def _ipv4_shorthand(host: str) -> bool:
    """`127.1`, `2130706433`, `0x7f.0.0.1`: names the C resolver reads as IPv4 addresses but
    the address checks would take for host names; refused, not guessed."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True
