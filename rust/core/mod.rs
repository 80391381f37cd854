//! The pure-Rust core of the reactor: nothing here touches Python.
//!
//! Everything that talks to the kernel (reads and writes on descriptors,
//! socket calls and addresses, the poller's level-triggered side set, the
//! self-pipe for wake-ups) and every data structure the loop needs (timer
//! queue, write queue, generation-checked token slab, a stream's state
//! machine) lives here so that `cargo test` can cover it without an
//! interpreter.

pub mod fd;
pub mod fdset;
pub mod heap;
pub mod life;
pub mod sock;
pub mod timers;
pub mod tokens;
pub mod write_queue;
