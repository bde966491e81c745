//! otel-worker on Cloudflare Workers.
//!
//! This crate binds Cloudflare's platform services (D1 for spans, a Durable Object for
//! the live feed) to the traits of [`otel_worker_core`]. The bindings arrive with the
//! Worker issue; until then the crate only pins the dependency so the workspace builds
//! as one unit.

pub use otel_worker_core as core;
