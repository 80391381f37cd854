//! Calls queued from other threads with `callFromThread`.
//!
//! The queue is the only reactor state other threads touch; it has its own
//! lock so that queueing never waits for the loop. The waker is fired only
//! while the loop is (about to be) asleep in the poller.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

pub struct ThreadCall {
    pub f: Py<PyAny>,
    pub args: Py<PyTuple>,
    pub kwargs: Option<Py<PyDict>>,
}

pub struct ThreadCalls {
    queue: Mutex<VecDeque<ThreadCall>>,
    /// The queue's length, kept beside it so that the loop can look at it
    /// twice a turn without taking the lock.
    pending: AtomicUsize,
    sleeping: AtomicBool,
    waker: mio::Waker,
}

impl ThreadCalls {
    pub fn new(waker: mio::Waker) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            pending: AtomicUsize::new(0),
            sleeping: AtomicBool::new(false),
            waker,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<ThreadCall>> {
        // A panic while holding this lock cannot leave the deque invalid.
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn push(&self, call: ThreadCall) {
        {
            let mut queue = self.lock();
            queue.push_back(call);
            // Counted before `sleeping` is read: either enter_sleep sees
            // the call or this push sees the mark (both SeqCst).
            self.pending.store(queue.len(), Ordering::SeqCst);
        }
        if self.sleeping.load(Ordering::SeqCst) {
            self.wake();
        }
    }

    pub fn wake(&self) {
        // A failed wake (eventfd counter saturated) means a wake is pending.
        let _ = self.waker.wake();
    }

    pub fn len(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn pop(&self) -> Option<ThreadCall> {
        let mut queue = self.lock();
        let call = queue.pop_front();
        self.pending.store(queue.len(), Ordering::SeqCst);
        call
    }

    /// Marks the loop as going to sleep; returns whether calls are pending
    /// (checked after the mark, so a concurrent push either is seen here or
    /// wakes the poller).
    pub fn enter_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        !self.is_empty()
    }

    pub fn leave_sleep(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }

    pub fn clear(&self) -> Vec<ThreadCall> {
        let mut queue = self.lock();
        self.pending.store(0, Ordering::SeqCst);
        queue.drain(..).collect()
    }
}
