"""Who the client is: the peer, or what a proxy the operator lists says it is.

`X-Forwarded-For` and `X-Forwarded-Proto` are anyone's to send; they count only when the peer
is one of `ONETHING_TRUSTED_PROXIES` (addresses or networks; none by default). `ProxyHeaders`
applies that rule once, first, by rewriting the request's `client` and `scheme`; everything
after it — the sign-in lockout, the rate limit, `Secure` cookies, the logs — reads those and
nothing else. `onething serve` leaves uvicorn's own proxy handling off, so the two cannot
disagree.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The listed proxies. ValueError, naming the entry, for one that is no address or network."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(_network(e.strip()) for e in entries if e.strip())

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, host: str | None) -> bool:
        if not host or not self.networks:
            return False
        try:
            address = ipaddress.ip_address(host.strip())
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """The client's address: the peer unless it is a listed proxy; then, walking
        `X-Forwarded-For` from its end (each proxy appends the address it saw), the first
        address that is not a listed proxy. None: nothing better than the peer."""
        if peer not in self or not forwarded_for:
            return None
        hops = [_host(hop) for hop in forwarded_for.split(",")]
        hops = [hop for hop in hops if hop]
        for hop in reversed(hops):
            if hop not in self:
                return hop[:64]
        return hops[0][:64] if hops else None


def _network(entry: str) -> Network:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise ValueError(
            f"ONETHING_TRUSTED_PROXIES: {entry!r} is not an IP address or network (e.g. 10.0.0.1, 10.0.0.0/8)"
        ) from None


def _host(hop: str) -> str:
    """An `X-Forwarded-For` entry without its port (`1.2.3.4:5678`, `[::1]:80`)."""
    hop = hop.strip()
    if hop.startswith("["):
        return hop[1 : hop.find("]")] if "]" in hop else hop
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


class ProxyHeaders:
    """ASGI middleware: a listed proxy's `X-Forwarded-For` becomes the request's client and its
    `X-Forwarded-Proto` (http or https) the scheme; from anyone else both are ignored."""

    def __init__(self, app: Any, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.trusted and scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            if peer is not None and peer[0] in self.trusted:
                forwarded: list[bytes] = []
                proto = None
                for name, value in scope["headers"]:
                    if name == b"x-forwarded-for":
                        forwarded.append(value)
                    elif name == b"x-forwarded-proto":
                        proto = value.decode("latin-1").split(",")[0].strip().lower()
                client = self.trusted.client(peer[0], b",".join(forwarded).decode("latin-1"))
                if client is not None:
                    scope["client"] = (client, 0)
                if proto in ("http", "https") and scope["type"] == "http":
                    scope["scheme"] = proto
        await self.app(scope, receive, send)
