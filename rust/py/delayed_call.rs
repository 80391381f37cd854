//! DelayedCall: the handle `callLater` returns (Twisted's IDelayedCall).
//!
//! The deadline that orders timers is monotonic; `time`/`getTime()` are in
//! `reactor.seconds()` (wall clock) units, as Twisted reports them.

use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::core::timers::TimerHandle;
use crate::py::reactor::{wall_seconds, ReactorBase};

#[pyclass(module = "torsion._torsion", weakref)]
pub struct DelayedCall {
    pub(crate) reactor: Option<Py<ReactorBase>>,
    /// When the call is due, in `reactor.seconds()` units.
    #[pyo3(get)]
    pub(crate) time: f64,
    pub(crate) deadline: u64,
    pub(crate) func: Option<Py<PyAny>>,
    pub(crate) args: Option<Py<PyTuple>>,
    pub(crate) kw: Option<Py<PyDict>>,
    pub(crate) handle: Option<TimerHandle>,
    pub(crate) cancelled: bool,
    pub(crate) called: bool,
}

/// Takes a just-created DelayedCall off the garbage collector's lists
/// while it waits in the reactor's queue. A pending call is always
/// reachable (the reactor holds it), so the collector has nothing to learn
/// from it; left tracked, every pending call was traversed by each
/// collection that its own allocation triggered, which profiling showed
/// as two thirds of callLater's cost. `track_again` puts it back the
/// moment it leaves the queue, so that the cycles a called DelayedCall
/// can be part of (a protocol holding the call that holds its bound
/// method) are collected as usual.
pub(crate) fn untrack_pending(dc: &Bound<'_, DelayedCall>) {
    // SAFETY: `dc` is a live object of a GC-enabled type (it has
    // __traverse__); untracking an object is allowed at any time and is a
    // no-op if it is not tracked.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(dc.as_ptr().cast()) }
}

/// Puts a DelayedCall that left the queue back under the collector.
pub(crate) fn track_again(dc: &Bound<'_, DelayedCall>) {
    let ptr = dc.as_ptr();
    // SAFETY: `dc` is a live object of a GC-enabled type, fully
    // initialised; tracking it twice would corrupt the collector's lists,
    // which the IsTracked check prevents.
    unsafe {
        if pyo3::ffi::PyObject_GC_IsTracked(ptr) == 0 {
            pyo3::ffi::PyObject_GC_Track(ptr.cast());
        }
    }
}

fn twisted_error(py: Python<'_>, name: &str) -> PyErr {
    // Twisted raises these classes bare: no arguments.
    match py
        .import("torsion.internet.error")
        .and_then(|m| m.getattr(name))
        .and_then(|cls| cls.call0())
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

fn seconds_to_ns(seconds: f64) -> u64 {
    if seconds.is_nan() || seconds <= 0.0 {
        0
    } else if seconds >= 1.0e10 {
        // Beyond three centuries: treat as "never" without overflowing.
        u64::MAX / 4
    } else {
        (seconds * 1.0e9) as u64
    }
}

impl DelayedCall {
    fn check_pending(&self, py: Python<'_>) -> PyResult<()> {
        if self.cancelled {
            return Err(twisted_error(py, "AlreadyCancelled"));
        }
        if self.called {
            return Err(twisted_error(py, "AlreadyCalled"));
        }
        Ok(())
    }

    /// Moves the queue entry to `self.deadline`.
    fn requeue(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let (reactor, handle, deadline) = {
            let me = slf.borrow();
            (
                me.reactor.as_ref().map(|r| r.clone_ref(py)),
                me.handle,
                me.deadline,
            )
        };
        let (Some(reactor), Some(handle)) = (reactor, handle) else {
            return Ok(());
        };
        let new_handle = {
            let mut r = reactor.bind(py).borrow_mut();
            let item = r.timers.remove(handle);
            item.map(|item| r.timers.insert(deadline, item))
        };
        slf.borrow_mut().handle = new_handle;
        Ok(())
    }
}

#[pymethods]
impl DelayedCall {
    /// The time at which this call will run, in `seconds()` units.
    #[pyo3(name = "getTime")]
    fn get_time(&self) -> f64 {
        self.time
    }

    /// Whether the call has neither run nor been cancelled.
    fn active(&self) -> bool {
        !(self.cancelled || self.called)
    }

    /// 1 once cancelled, else 0 (Twisted's integer flag).
    #[getter]
    fn cancelled(&self) -> i32 {
        i32::from(self.cancelled)
    }

    /// 1 once run, else 0.
    #[getter]
    fn called(&self) -> i32 {
        i32::from(self.called)
    }

    #[getter]
    fn func(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.func
            .as_ref()
            .map(|f| f.clone_ref(py))
            .ok_or_else(|| PyAttributeError::new_err("func"))
    }

    #[getter]
    fn args(&self, py: Python<'_>) -> PyResult<Py<PyTuple>> {
        self.args
            .as_ref()
            .map(|f| f.clone_ref(py))
            .ok_or_else(|| PyAttributeError::new_err("args"))
    }

    #[getter]
    fn kw(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match (&self.kw, self.func.is_some()) {
            (Some(kw), _) => Ok(kw.clone_ref(py).into_any()),
            (None, true) => Ok(PyDict::new(py).into_any().unbind()),
            (None, false) => Err(PyAttributeError::new_err("kw")),
        }
    }

    /// Cancels the call; AlreadyCalled / AlreadyCancelled as in Twisted.
    fn cancel(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let (reactor, handle) = {
            let mut me = slf.borrow_mut();
            me.check_pending(py)?;
            me.cancelled = true;
            (me.reactor.take(), me.handle.take())
        };
        let dropped = match (reactor, handle) {
            (Some(reactor), Some(handle)) => reactor.bind(py).borrow_mut().timers.remove(handle),
            _ => None,
        };
        drop(dropped);
        track_again(slf);
        let (f, a, k) = {
            let mut me = slf.borrow_mut();
            (me.func.take(), me.args.take(), me.kw.take())
        };
        // Released outside the borrow: their finalizers may run Python code.
        drop((f, a, k));
        Ok(())
    }

    /// Reschedules the call to `secondsFromNow` from now.
    #[pyo3(name = "reset")]
    fn reset(slf: &Bound<'_, Self>, seconds_from_now: f64) -> PyResult<()> {
        let py = slf.py();
        {
            let mut me = slf.borrow_mut();
            me.check_pending(py)?;
            let now_ns = match &me.reactor {
                Some(r) => r.bind(py).borrow().now_ns(),
                None => return Ok(()),
            };
            me.time = wall_seconds() + seconds_from_now;
            me.deadline = now_ns.saturating_add(seconds_to_ns(seconds_from_now));
        }
        Self::requeue(slf)
    }

    /// Moves the call `secondsLater` later (earlier if negative).
    fn delay(slf: &Bound<'_, Self>, seconds_later: f64) -> PyResult<()> {
        let py = slf.py();
        {
            let mut me = slf.borrow_mut();
            me.check_pending(py)?;
            me.time += seconds_later;
            if seconds_later >= 0.0 {
                me.deadline = me.deadline.saturating_add(seconds_to_ns(seconds_later));
            } else {
                me.deadline = me.deadline.saturating_sub(seconds_to_ns(-seconds_later));
            }
        }
        Self::requeue(slf)
    }

    /// Hashes by identity (defining ordering would otherwise drop it).
    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        (slf.as_ptr() as isize) >> 4
    }

    fn __lt__(&self, other: PyRef<'_, Self>) -> bool {
        self.time < other.time
    }

    fn __le__(&self, other: PyRef<'_, Self>) -> bool {
        self.time <= other.time
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let me = slf.borrow();
        let mut out = format!(
            "<DelayedCall 0x{:x} [{}s] called={} cancelled={}",
            slf.as_ptr() as usize,
            me.time - wall_seconds(),
            i32::from(me.called),
            i32::from(me.cancelled)
        );
        if let Some(func) = &me.func {
            let func = func.bind(py);
            let name = func
                .getattr("__qualname__")
                .or_else(|_| func.getattr("__name__"))
                .map_or_else(
                    |_| func.repr().map(|r| r.to_string()),
                    |n| Ok(n.to_string()),
                )?;
            out.push(' ');
            out.push_str(&name);
            out.push('(');
            let mut parts = Vec::new();
            if let Some(args) = &me.args {
                for a in args.bind(py).iter() {
                    parts.push(a.repr()?.to_string());
                }
            }
            if let Some(kw) = &me.kw {
                for (k, v) in kw.bind(py).iter() {
                    parts.push(format!("{}={}", k.str()?, v.repr()?));
                }
            }
            out.push_str(&parts.join(", "));
            out.push(')');
        }
        out.push('>');
        Ok(out)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.func)?;
        visit.call(&self.args)?;
        visit.call(&self.kw)?;
        visit.call(&self.reactor)?;
        Ok(())
    }

    fn __clear__(&mut self) {
        self.func = None;
        self.args = None;
        self.kw = None;
        self.reactor = None;
    }
}

pub(crate) fn delay_to_ns(delay: f64) -> u64 {
    seconds_to_ns(delay)
}
