//! The binding layer: the only code that imports pyo3.

pub mod delayed_call;
pub mod dispatch;
pub mod fast_write;
pub mod fd_readers;
pub mod gil_cell;
pub mod port;
pub mod reactor;
pub mod read;
pub mod relay;
pub mod spare_bytes;
pub mod thread_calls;
pub mod transport;
