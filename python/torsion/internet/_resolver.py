"""Name resolution for the reactor's ``nameResolver`` (IHostnameResolver):
getaddrinfo on the thread pool, and adapters between the simple
(``getHostByName``) and the full resolver interfaces."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IHostnameResolver,
    IHostResolution,
    IResolutionReceiver,
    IResolverSimple,
)
from torsion.python.failure import Failure

_typesToFamily = {
    frozenset([IPv4Address]): socket.AF_INET,
    frozenset([IPv6Address]): socket.AF_INET6,
    frozenset([IPv4Address, IPv6Address]): socket.AF_UNSPEC,
}
_familyToType: dict[int, type] = {
    socket.AF_INET: IPv4Address,
    socket.AF_INET6: IPv6Address,
}
_semanticsToSocktype = {"TCP": socket.SOCK_STREAM, "UDP": socket.SOCK_DGRAM}
_socktypeToSemantics = {socket.SOCK_STREAM: "TCP", socket.SOCK_DGRAM: "UDP"}


@implementer(IHostResolution)
class HostResolution:
    """One resolution in progress: the name, and a way to cancel it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        """Not supported by the getaddrinfo resolver, as in Twisted."""
        raise NotImplementedError()


@implementer(IHostnameResolver)
class GAIResolver:
    """IHostnameResolver using socket.getaddrinfo on a thread pool."""

    def __init__(
        self, reactor: Any, getThreadPool: Any = None, getaddrinfo: Any = None
    ):
        self._reactor = reactor
        self._getThreadPool = getThreadPool or reactor.getThreadPool
        self._getaddrinfo = getaddrinfo or socket.getaddrinfo

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type] | None = None,
        transportSemantics: str = "TCP",
    ) -> IHostResolution:
        """Resolve ``hostName``, reporting each address to the receiver."""
        from torsion.internet.threads import deferToThreadPool

        family = _typesToFamily[frozenset(addressTypes or [IPv4Address, IPv6Address])]
        socktype = _semanticsToSocktype[transportSemantics]

        def lookup() -> list[Any]:
            try:
                return self._getaddrinfo(hostName, portNumber, family, socktype)
            except socket.gaierror:
                return []

        d = deferToThreadPool(self._reactor, self._getThreadPool(), lookup)
        resolution = HostResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)

        def deliver(result: list[Any]) -> None:
            for fam, stype, _proto, _canon, sockaddr in result:
                addrType = _familyToType.get(fam)
                if addrType is None:
                    continue
                resolutionReceiver.addressResolved(
                    addrType(_socktypeToSemantics.get(stype, "TCP"), *sockaddr)
                )
            resolutionReceiver.resolutionComplete()

        d.addCallback(deliver)
        return resolution


@implementer(IHostnameResolver)
class SimpleResolverComplexifier:
    """Presents an IResolverSimple (getHostByName) as an IHostnameResolver."""

    def __init__(self, simpleResolver: IResolverSimple) -> None:
        self._simpleResolver = simpleResolver

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type] | None = None,
        transportSemantics: str = "TCP",
    ) -> IHostResolution:
        """Resolve with getHostByName; one IPv4 address at most."""
        resolution = HostResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        d = self._simpleResolver.getHostByName(hostName)

        def found(address: str) -> None:
            resolutionReceiver.addressResolved(
                IPv4Address(transportSemantics, address, portNumber)
            )

        def notFound(f: Failure) -> None:
            f.trap(error.DNSLookupError)

        d.addCallbacks(found, notFound)
        d.addBoth(lambda _: resolutionReceiver.resolutionComplete())
        return resolution


@implementer(IResolutionReceiver)
class _FirstAddress:
    def __init__(self, deferred: Deferred[str], name: str) -> None:
        self._deferred = deferred
        self._name = name
        self._addresses: list[Any] = []

    def resolutionBegan(self, resolution: Any) -> None:
        pass

    def addressResolved(self, address: Any) -> None:
        self._addresses.append(address)

    def resolutionComplete(self) -> None:
        if self._addresses:
            self._deferred.callback(self._addresses[0].host)
        else:
            self._deferred.errback(error.DNSLookupError(self._name))


@implementer(IResolverSimple)
class ComplexResolverSimplifier:
    """Presents an IHostnameResolver as an IResolverSimple."""

    def __init__(self, nameResolver: IHostnameResolver) -> None:
        self._nameResolver = nameResolver

    def getHostByName(self, name: str, timeouts: Sequence[int] = ()) -> Deferred[str]:
        """The first address the name resolver finds."""
        d: Deferred[str] = Deferred()
        self._nameResolver.resolveHostName(
            _FirstAddress(d, name), name, 0, [IPv4Address]
        )
        return d
