//! The OTLP/JSON decoder (with all its leniencies) on arbitrary bytes: it may refuse them,
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otel_worker_core::ingest::{Encoding, decode};

fuzz_target!(|body: &[u8]| {
    let _ = decode(Encoding::Json, body);
});
