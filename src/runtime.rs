//! The process's async runtime, for a long-running operator.

use tokio::runtime::{Builder, Runtime};

/// Threads for blocking work (file reads, DNS). A `file://` listing reads each item's files
/// through this pool, which grew to 30-odd threads over a 10,000-item library, each with an
/// allocator cache of its own; eight keep those reads overlapped.
const MAX_BLOCKING_THREADS: usize = 8;

/// The multi-threaded runtime the operator runs on.
pub fn build() -> std::io::Result<Runtime> {
    Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .build()
}
