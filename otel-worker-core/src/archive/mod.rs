//! The archive tier: immutable blocks of telemetry in an object store (R2 on the Worker,
//! a directory locally), found through metadata in the database. The design, its costs
//! and the measurements behind the block format are in docs/architecture.md ("The
//! archive tier").

pub mod block;
pub mod objects;
pub mod read;
pub mod trace_filter;
