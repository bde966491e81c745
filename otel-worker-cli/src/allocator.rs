//! The binary's allocator. glibc's took a sixth of the server's time under ingest
//! (consolidating freed chunks); jemalloc, with the options below, serves Rust and SQLite
//! alike (on Linux it replaces `malloc`). mimalloc was as fast but held twice the memory
//! (docs/performance.md, "The allocator"). jemalloc does not build for MSVC, where the
//! system's allocator serves.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, which it reads once as it starts (under this name where it
/// replaces `malloc`): one arena per CPU (threads use the arena of the CPU they run on)
/// instead of four per CPU, and freed pages given back after a second. They keep the
/// server under 100 MB resident during sustained ingest (85 MB measured, against 105 to
/// 120 MB with jemalloc's defaults).
#[unsafe(export_name = "malloc_conf")]
static MALLOC_CONF: ConfString =
    ConfString(c"percpu_arena:percpu,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr());

/// A C string as a C global: jemalloc reads `malloc_conf` as a `const char *`.
#[repr(transparent)]
struct ConfString(*const std::ffi::c_char);

// SAFETY: the pointer is to a string literal, never written.
unsafe impl Sync for ConfString {}
