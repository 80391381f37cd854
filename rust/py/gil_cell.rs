//! A value shared by all code that runs holding the GIL, reached without
//! the cost of a thread-local (`__tls_get_addr` on every access from a
//! shared library; several per request on the hot path).

use std::cell::RefCell;

use pyo3::Python;

pub struct GilCell<T>(RefCell<T>);

// SAFETY: the value is reached only through `with`, which takes a `Python`
// token, so the calling thread holds the GIL (the module does not declare
// itself free of it): one thread at a time, and handing the GIL over
// orders the accesses. A second `with` on the same cell while one is
// running (re-entry, or another thread taking the GIL from a closure that
// released it) finds the RefCell borrowed and panics instead of aliasing.
unsafe impl<T> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    pub const fn new(value: T) -> Self {
        Self(RefCell::new(value))
    }

    /// Runs `f` on the value. `f` must not run Python code.
    pub fn with<R>(&self, _py: Python<'_>, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }
}
