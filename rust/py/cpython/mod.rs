//! Code that relies on CPython's object layout or on its unstable C API,
//! kept apart so that a new CPython version has one place to check. Each
//! file says which versions it was checked against and what happens on
//! others.

pub mod bytes_read;
pub mod fast_write;
pub mod spare_bytes;
