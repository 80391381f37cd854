"""Services: named, start/stop-able objects arranged in a tree (Twisted's model).

A leaf service does the work (listens, connects, runs a timer); a
``MultiService`` starts its children in order and stops them in reverse,
waiting for every child whose ``stopService`` returns a Deferred.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zope.interface import Attribute, Interface, implementer, providedBy  # type: ignore[import-untyped]

from torsion.internet import defer

__all__ = [
    "IServiceMaker",
    "IService",
    "Service",
    "IServiceCollection",
    "MultiService",
    "IProcess",
    "Process",
    "Application",
]


class IServiceMaker(Interface):
    """Builds a service from options (what ``twistd`` plugins provide)."""

    tapname = Attribute("The short name of the plugin, a twistd subcommand.")
    description = Attribute("A one-line summary of what the service does.")
    options = Attribute("The options class the service is configured with.")

    def makeService(options: Any) -> Any:
        """Return an IService configured from ``options``."""


class IService(Interface):
    """Something with start-up and shut-down code, possibly inside a collection."""

    name = Attribute("The service's name (a str) or None.")
    running = Attribute("Whether the service is running.")
    parent = Attribute("The IServiceCollection this service belongs to, or None.")

    def setName(name: str) -> None:
        """Name the service; RuntimeError if it already has a parent."""

    def setServiceParent(parent: Any) -> None:  # type: ignore[misc]
        """Add this service to ``parent`` (leaving any former parent first)."""

    def disownServiceParent() -> Any:  # type: ignore[misc]
        """Leave the parent; returns what the parent's removeService returned."""

    def startService() -> None:  # type: ignore[misc]
        """Start the service."""

    def stopService() -> Any:  # type: ignore[misc]
        """Stop the service; may return a Deferred that fires once stopped."""

    def privilegedStartService() -> None:  # type: ignore[misc]
        """Work to do before privileges are dropped (e.g. binding low ports)."""


class IServiceCollection(Interface):
    """A container of services, iterable and addressable by name."""

    def getServiceNamed(name: str) -> Any:
        """The child named ``name``; KeyError if there is none."""

    def __iter__() -> Iterator[Any]:  # type: ignore[misc,empty-body]
        """Iterate over the child services."""

    def addService(service: Any) -> None:
        """Add a child; RuntimeError if one with the same name exists."""

    def removeService(service: Any) -> Any:
        """Remove a child; ValueError if it is not one. May return a Deferred."""


@implementer(IService)
class Service:
    """Base class for services: keeps ``name``, ``parent`` and ``running``."""

    running = 0
    name: str | None = None
    parent: Any = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle state without the ``running`` flag."""
        state = self.__dict__.copy()
        state.pop("running", None)
        return state

    def setName(self, name: str) -> None:
        """Set the name; a service with a parent cannot be renamed."""
        if self.parent is not None:
            raise RuntimeError("cannot change name when parent exists")
        self.name = name

    def setServiceParent(self, parent: Any) -> None:
        """Become a child of ``parent`` (adapted to IServiceCollection)."""
        if self.parent is not None:
            self.disownServiceParent()
        collection: Any = IServiceCollection(parent, parent)
        self.parent = collection
        collection.addService(self)

    def disownServiceParent(self) -> Any:
        """Leave the parent and return its removeService result."""
        result = self.parent.removeService(self)
        self.parent = None
        return result

    def privilegedStartService(self) -> None:
        """Nothing to do by default."""

    def startService(self) -> None:
        """Mark the service running."""
        self.running = 1

    def stopService(self) -> Any:
        """Mark the service stopped."""
        self.running = 0


@implementer(IServiceCollection)
class MultiService(Service):
    """A service made of child services, started in order, stopped in reverse."""

    def __init__(self) -> None:
        self.services: list[Any] = []
        self.namedServices: dict[str, Any] = {}
        self.parent = None

    def privilegedStartService(self) -> None:
        """Run every child's privilegedStartService, in order."""
        Service.privilegedStartService(self)
        for child in self:
            child.privilegedStartService()

    def startService(self) -> None:
        """Mark running, then start every child in order."""
        Service.startService(self)
        for child in self:
            child.startService()

    def stopService(self) -> defer.Deferred[Any]:
        """Stop the children in reverse order; the Deferred fires when all have."""
        Service.stopService(self)
        stopping = [
            defer.maybeDeferred(child.stopService) for child in reversed(self.services)
        ]
        return defer.DeferredList(stopping)

    def getServiceNamed(self, name: str) -> Any:
        """The child named ``name``; KeyError if there is none."""
        return self.namedServices[name]

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the children in the order they were added."""
        return iter(self.services)

    def addService(self, service: Any) -> None:
        """Add a child, starting it at once if this collection is running."""
        if service.name is not None:
            if service.name in self.namedServices:
                raise RuntimeError(
                    f"cannot have two services with same name '{service.name}'"
                )
            self.namedServices[service.name] = service
        self.services.append(service)
        if self.running:
            service.privilegedStartService()
            service.startService()

    def removeService(self, service: Any) -> Any:
        """Remove a child; if running, stop it and return its stopService result."""
        if service.name:
            del self.namedServices[service.name]
        self.services.remove(service)
        if self.running:
            return service.stopService()
        return None


class IProcess(Interface):
    """How the process should run: its name and the user and group to run as."""

    processName = Attribute("The name to show in ps, or None to leave it.")
    uid = Attribute("The user id to run as, or None to leave it.")
    gid = Attribute("The group id to run as, or None to leave it.")


@implementer(IProcess)
class Process:
    """Process parameters: ``uid``, ``gid`` and ``processName`` (None)."""

    processName: str | None = None

    def __init__(self, uid: int | None = None, gid: int | None = None) -> None:
        self.uid = uid
        self.gid = gid


class _Application:
    """An application object: adapts to IService/IServiceCollection and IProcess.

    Like Twisted's Componentized application, ``IService(app)`` returns its
    MultiService and ``IProcess(app)`` its Process.
    """

    def __init__(self, components: dict[Any, Any]) -> None:
        self._adapterCache = components

    def getComponent(self, interface: Any, default: Any = None) -> Any:
        """The component providing ``interface``, or ``default``."""
        return self._adapterCache.get(interface, default)

    def addComponent(self, component: Any, ignoreClass: int = 0) -> None:
        """Register ``component`` for every interface it provides."""
        for interface in providedBy(component).flattened():
            if interface is Interface:
                continue
            self._adapterCache[interface] = component

    def __conform__(self, interface: Any) -> Any:
        return self.getComponent(interface)


def Application(name: str, uid: int | None = None, gid: int | None = None) -> Any:
    """An application named ``name``: use ``IService(app)`` to reach its services."""
    application = _Application({})
    application.addComponent(MultiService())
    application.addComponent(Process(uid, gid))
    named: Any = IService(application)
    named.setName(name)
    return application
