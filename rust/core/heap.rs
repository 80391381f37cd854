//! Keeps glibc from handing freed read buffers back to the kernel.
//!
//! A streaming read allocates a few 64 KiB bytes objects and frees them
//! once their data is sent. They sit at the top of glibc's heap, and glibc
//! gives the top back to the kernel (trims it) whenever more than its trim
//! threshold (128 KiB at start) is free there: the next reads then fault
//! their buffers' pages in again, one page at a time.
//!
//! glibc raises the threshold by itself the first time a block it had
//! served with mmap is freed (to twice that block's size), which any
//! program that once handles a large buffer does; this does it up front.
//! Thresholds the user set (mallopt, MALLOC_TRIM_THRESHOLD_) stay: glibc
//! then makes no adjustment.

/// The block allocated and freed: glibc then keeps up to twice this much
/// free at the top of its heap, and serves blocks up to this size from it.
const BLOCK: usize = 1 << 20;

/// Raises glibc's trim and mmap thresholds as freeing a large block does.
pub fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: a plain allocation, freed at once and never touched
    // (black_box keeps the compiler from eliding the pair, which it may).
    unsafe {
        libc::free(std::hint::black_box(libc::malloc(BLOCK)));
    }
}
