//! The binding layer: the only code that imports pyo3.

pub mod cpython;
pub mod datagram;
pub mod delayed_call;
pub mod dispatch;
pub mod fd_readers;
pub mod gil_cell;
pub mod port;
pub mod reactor;
pub mod registration;
pub mod relay;
pub mod stream;
pub mod thread_calls;
