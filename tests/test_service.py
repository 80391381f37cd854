"""Tests for torsion.application.service, each scenario also run on Twisted's."""

from __future__ import annotations

import gc
import pickle
import types
from typing import Any

import pytest
from conftest import framework_modules
from torsion.application import service as tservice
from torsion.internet import defer as tdefer
from torsion.internet.testing import flushLoggedErrors
from zope.interface.verify import verifyObject


@pytest.fixture(params=["torsion", "twisted"])
def app(request: pytest.FixtureRequest) -> types.SimpleNamespace:
    """The application.service and defer modules of torsion or Twisted."""
    return framework_modules(
        request.param, service="application.service", defer="internet.defer"
    )


def recorder(app: types.SimpleNamespace, events: list[Any]) -> type:
    """A Service subclass that appends (event, name) to ``events``."""

    class Recorder(app.service.Service):
        stopResult: Any = None

        def privilegedStartService(self) -> None:
            events.append(("privileged", self.name))
            super().privilegedStartService()

        def startService(self) -> None:
            events.append(("start", self.name))
            super().startService()

        def stopService(self) -> Any:
            events.append(("stop", self.name))
            super().stopService()
            return self.stopResult

    return Recorder


def named(cls: type, name: str) -> Any:
    s = cls()
    s.setName(name)
    return s


def test_service_defaults_and_running_flag(app: types.SimpleNamespace) -> None:
    """A fresh Service has no name or parent and running == 0; start/stop flip it."""
    s = app.service.Service()
    assert (s.name, s.parent, s.running) == (None, None, 0)
    assert s.startService() is None
    assert s.running == 1
    assert s.stopService() is None
    assert s.running == 0
    assert s.privilegedStartService() is None
    assert s.running == 0


def test_interfaces_provided(app: types.SimpleNamespace) -> None:
    """Service provides IService; MultiService also IServiceCollection."""
    svc = app.service
    assert verifyObject(svc.IService, svc.Service())
    multi = svc.MultiService()
    assert verifyObject(svc.IService, multi)
    assert verifyObject(svc.IServiceCollection, multi)
    assert not svc.IServiceCollection.providedBy(svc.Service())
    assert verifyObject(svc.IProcess, svc.Process())


def test_set_name_refused_with_parent(app: types.SimpleNamespace) -> None:
    """setName works until the service has a parent, then raises RuntimeError."""
    s = app.service.Service()
    s.setName("a")
    assert s.name == "a"
    s.setServiceParent(app.service.MultiService())
    with pytest.raises(RuntimeError, match="^cannot change name when parent exists$"):
        s.setName("b")
    assert s.name == "a"


def test_set_parent_moves_between_parents(app: types.SimpleNamespace) -> None:
    """setServiceParent leaves the former parent (name freed) and joins the new one."""
    first, second = app.service.MultiService(), app.service.MultiService()
    s = named(app.service.Service, "x")
    s.setServiceParent(first)
    assert s.parent is first
    assert list(first) == [s]
    assert first.getServiceNamed("x") is s
    s.setServiceParent(second)
    assert s.parent is second
    assert list(first) == []
    assert list(second) == [s]
    with pytest.raises(KeyError):
        first.getServiceNamed("x")
    assert s.disownServiceParent() is None
    assert s.parent is None
    assert list(second) == []


def test_multiservice_start_order_and_reverse_stop(app: types.SimpleNamespace) -> None:
    """Children start in the order added and stop in reverse; the parent is
    marked running before its children start."""
    events: list[Any] = []
    Recorder = recorder(app, events)
    multi = app.service.MultiService()
    children = [named(Recorder, n) for n in "abc"]
    for child in children:
        child.setServiceParent(multi)
    multi.privilegedStartService()
    assert events == [("privileged", "a"), ("privileged", "b"), ("privileged", "c")]
    assert multi.running == 0
    del events[:]
    multi.startService()
    assert events == [("start", "a"), ("start", "b"), ("start", "c")]
    assert multi.running == 1
    assert [c.running for c in children] == [1, 1, 1]
    del events[:]
    results: list[Any] = []
    d = multi.stopService()
    assert isinstance(d, app.defer.DeferredList)
    d.addCallback(results.append)
    assert events == [("stop", "c"), ("stop", "b"), ("stop", "a")]
    assert results == [[(True, None), (True, None), (True, None)]]
    assert multi.running == 0
    assert [c.running for c in children] == [0, 0, 0]


def test_multiservice_stop_waits_for_child_deferreds(
    app: types.SimpleNamespace,
) -> None:
    """MultiService.stopService fires only once every child's Deferred has, with
    each child's result in reverse order of addition."""
    events: list[Any] = []
    Recorder = recorder(app, events)
    multi = app.service.MultiService()
    slow1, fast, slow2 = (named(Recorder, n) for n in ("slow1", "fast", "slow2"))
    slow1.stopResult = app.defer.Deferred()
    slow2.stopResult = app.defer.Deferred()
    fast.stopResult = "done"
    for child in (slow1, fast, slow2):
        child.setServiceParent(multi)
    multi.startService()
    results: list[Any] = []
    multi.stopService().addCallback(results.append)
    assert results == []
    slow1.stopResult.callback("one")
    assert results == []
    slow2.stopResult.callback("two")
    assert results == [[(True, "two"), (True, "done"), (True, "one")]]


def test_multiservice_stop_with_no_children_fires_at_once(
    app: types.SimpleNamespace,
) -> None:
    """An empty MultiService stops with an already-fired DeferredList of []."""
    results: list[Any] = []
    multi = app.service.MultiService()
    multi.startService()
    multi.stopService().addCallback(results.append)
    assert results == [[]]


def test_multiservice_child_stop_raising() -> None:
    """A child whose stopService raises shows as (False, Failure) in the result;
    the other children are still stopped (torsion only: the failure is left
    unhandled in the child's Deferred, as in Twisted, and logged at collection)."""
    events: list[Any] = []

    class Boom(tservice.Service):
        def stopService(self) -> Any:
            raise ValueError("no")

    Recorder = recorder(types.SimpleNamespace(service=tservice), events)
    multi = tservice.MultiService()
    named(Recorder, "first").setServiceParent(multi)
    Boom().setServiceParent(multi)
    multi.startService()
    results: list[Any] = []
    multi.stopService().addCallback(results.append)
    assert events == [("start", "first"), ("stop", "first")]
    [(ok1, failure), (ok2, value)] = results[0]
    assert (ok1, failure.type, str(failure.value), ok2, value) == (
        False,
        ValueError,
        "no",
        True,
        None,
    )
    del results, failure
    gc.collect()
    assert [f.type for f in flushLoggedErrors(ValueError)] == [ValueError]


def test_add_service_duplicate_name(app: types.SimpleNamespace) -> None:
    """Two children with one name: RuntimeError naming it; unnamed ones are fine."""
    multi = app.service.MultiService()
    named(app.service.Service, "dup").setServiceParent(multi)
    with pytest.raises(
        RuntimeError, match="^cannot have two services with same name 'dup'$"
    ):
        named(app.service.Service, "dup").setServiceParent(multi)
    app.service.Service().setServiceParent(multi)
    app.service.Service().setServiceParent(multi)
    assert len(list(multi)) == 3


def test_add_to_running_parent_starts_child(app: types.SimpleNamespace) -> None:
    """Adding to a running MultiService runs privilegedStartService then startService."""
    events: list[Any] = []
    multi = app.service.MultiService()
    multi.startService()
    named(recorder(app, events), "late").setServiceParent(multi)
    assert events == [("privileged", "late"), ("start", "late")]


def test_remove_service_running_returns_stop_result(app: types.SimpleNamespace) -> None:
    """Removing a child from a running parent stops it and returns its result;
    from a stopped parent it returns None without stopping it."""
    events: list[Any] = []
    Recorder = recorder(app, events)
    multi = app.service.MultiService()
    child = named(Recorder, "c")
    child.stopResult = app.defer.Deferred()
    child.setServiceParent(multi)
    multi.startService()
    assert child.disownServiceParent() is child.stopResult
    assert child.parent is None
    assert events[-1] == ("stop", "c")
    assert list(multi) == []
    with pytest.raises(KeyError):
        multi.getServiceNamed("c")
    multi.stopService()
    other = named(Recorder, "d")
    other.setServiceParent(multi)
    del events[:]
    assert multi.removeService(other) is None
    assert events == []


def test_remove_unknown_service_raises_value_error(app: types.SimpleNamespace) -> None:
    """Removing a service that is not a child raises ValueError."""
    with pytest.raises(ValueError):
        app.service.MultiService().removeService(app.service.Service())


def test_getstate_drops_running(app: types.SimpleNamespace) -> None:
    """A pickled running service comes back not running, with its name."""
    s = app.service.Service()
    s.setName("p")
    s.startService()
    assert "running" not in s.__getstate__()
    copy = pickle.loads(pickle.dumps(s))
    assert (copy.name, copy.running) == ("p", 0)


def test_process_defaults(app: types.SimpleNamespace) -> None:
    """Process keeps uid and gid; processName defaults to None."""
    p = app.service.Process(5, 6)
    assert (p.uid, p.gid, p.processName) == (5, 6, None)
    q = app.service.Process()
    assert (q.uid, q.gid) == (None, None)


def test_application_components(app: types.SimpleNamespace) -> None:
    """Application(name) adapts to a named MultiService and to IProcess; services
    added with setServiceParent(app) are started through IService(app)."""
    svc = app.service
    application = svc.Application("myapp", uid=7, gid=8)
    top = svc.IService(application)
    assert isinstance(top, svc.MultiService)
    assert top.name == "myapp"
    assert svc.IServiceCollection(application) is top
    process = svc.IProcess(application)
    assert (process.uid, process.gid, process.processName) == (7, 8, None)
    events: list[Any] = []
    child = named(recorder(app, events), "web")
    child.setServiceParent(application)
    assert child.parent is top
    assert top.getServiceNamed("web") is child
    top.startService()
    assert events == [("start", "web")]


def test_multiservice_nested_tree_lifecycle() -> None:
    """Nested collections start depth-first in order and stop depth-first in reverse."""
    events: list[Any] = []
    Recorder = recorder(types.SimpleNamespace(service=tservice), events)
    root = tservice.MultiService()
    inner = tservice.MultiService()
    named(Recorder, "a").setServiceParent(root)
    inner.setServiceParent(root)
    named(Recorder, "b").setServiceParent(inner)
    named(Recorder, "c").setServiceParent(inner)
    named(Recorder, "d").setServiceParent(root)
    root.startService()
    assert [e for e in events if e[0] == "start"] == [
        ("start", "a"),
        ("start", "b"),
        ("start", "c"),
        ("start", "d"),
    ]
    del events[:]
    fired: list[Any] = []
    root.stopService().addCallback(fired.append)
    assert events == [("stop", "d"), ("stop", "c"), ("stop", "b"), ("stop", "a")]
    assert isinstance(fired[0][1][1], list)
    assert isinstance(root.stopService(), tdefer.DeferredList)
