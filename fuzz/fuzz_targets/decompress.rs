//! An export body under each compression on arbitrary bytes, within a small limit: it may
//! be refused, never panic, and never decompress past the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otel_worker_core::ingest::{Compression, Encoding, IngestError, gunzip, read_request, unzstd};

const LIMIT: usize = 64 * 1024;

fuzz_target!(|body: &[u8]| {
    for compression in [Compression::Gzip, Compression::Zstd] {
        let _ = read_request::<ExportTraceServiceRequest>(Encoding::Protobuf, compression, body, LIMIT);
    }
    for out in [gunzip(body, LIMIT), unzstd(body, LIMIT)] {
        match out {
            Ok(bytes) => assert!(bytes.len() <= LIMIT),
            Err(IngestError::TooLarge { .. } | IngestError::InvalidBody(_)) => {}
            Err(other) => panic!("unexpected refusal: {other}"),
        }
    }
});
