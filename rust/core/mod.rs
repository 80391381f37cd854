//! The pure-Rust core of the reactor: nothing here touches Python.
//!
//! Everything that talks to the kernel (socket calls, the poller's
//! level-triggered side set, the self-pipe for wake-ups) and every data
//! structure the loop needs (timer queue, write queue, generation-checked
//! token slab) lives here so that `cargo test` can cover it without an
//! interpreter.

pub mod fdset;
pub mod heap;
pub mod sys;
pub mod timers;
pub mod tokens;
pub mod write_queue;
