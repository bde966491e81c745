//! Thread priorities: ingest first, background work in the time it leaves.

/// The nice value of background threads (the housekeeper): under sustained ingest the
/// scheduler gives the writer and the request threads the cores first, and the
/// background work still gets a share (at 10, about a tenth of a busy thread's), so it
/// keeps up whenever ingest leaves any time at all. Measured: protobuf ingest from about
/// 101,000 to 109,000 spans/s with the summaries still complete 0.2 s after the load
/// (docs/performance.md).
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to [`BACKGROUND_NICE`]. Only this
/// thread: on Linux a nice value belongs to a thread. Where it cannot be set, the thread
/// runs at the normal priority, which is only slower.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take no pointers and change only this thread.
        let result = unsafe {
            libc::setpriority(
                libc::PRIO_PROCESS,
                libc::gettid() as libc::id_t,
                BACKGROUND_NICE,
            )
        };
        if result != 0 {
            tracing::debug!(
                "could not lower the priority of a background thread: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
