//! Option A': parquet through its arrow API (ArrowWriter / ParquetRecordBatchReader).
use crate::pq::PqCodec;
use crate::spangen::{DSpan, Span, attrs_json};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, FixedSizeBinaryArray, Int32Array, Int64Array, RecordBatch, StringArray};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Encoding;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::sync::Arc;

pub fn encode(spans: &[Span], codec: PqCodec) -> Vec<u8> {
    let a = |x: ArrayRef| x;
    let batch = RecordBatch::try_from_iter(vec![
        ("trace_id", a(Arc::new(FixedSizeBinaryArray::try_from_iter(spans.iter().map(|s| s.trace_id)).unwrap()))),
        ("span_id", a(Arc::new(FixedSizeBinaryArray::try_from_iter(spans.iter().map(|s| s.span_id)).unwrap()))),
        ("parent_span_id", a(Arc::new(FixedSizeBinaryArray::try_from_sparse_iter_with_size(spans.iter().map(|s| s.parent), 8).unwrap()))),
        ("name", a(Arc::new(StringArray::from_iter_values(spans.iter().map(|s| &s.name))))),
        ("service_name", a(Arc::new(StringArray::from_iter_values(spans.iter().map(|s| &s.service))))),
        ("kind", a(Arc::new(Int32Array::from_iter_values(spans.iter().map(|s| s.kind as i32))))),
        ("status_code", a(Arc::new(Int32Array::from_iter_values(spans.iter().map(|s| s.status_code as i32))))),
        ("status_message", a(Arc::new(StringArray::from_iter_values(spans.iter().map(|s| &s.status_message))))),
        ("start_ns", a(Arc::new(Int64Array::from_iter_values(spans.iter().map(|s| s.start_ns as i64))))),
        ("end_ns", a(Arc::new(Int64Array::from_iter_values(spans.iter().map(|s| s.end_ns as i64))))),
        ("attributes", a(Arc::new(StringArray::from_iter_values(spans.iter().map(|s| attrs_json(&s.attrs)))))),
    ])
    .unwrap();
    let p = |s: &str| ColumnPath::from(s);
    let props = WriterProperties::builder()
        .set_compression(codec.get())
        .set_max_row_group_row_count(Some(1 << 20))
        .set_column_dictionary_enabled(p("span_id"), false)
        .set_column_dictionary_enabled(p("parent_span_id"), false)
        .set_column_dictionary_enabled(p("start_ns"), false)
        .set_column_dictionary_enabled(p("end_ns"), false)
        .set_column_encoding(p("start_ns"), Encoding::DELTA_BINARY_PACKED)
        .set_column_encoding(p("end_ns"), Encoding::DELTA_BINARY_PACKED)
        .build();
    let mut buf = Vec::with_capacity(spans.len() * 64);
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    buf
}

pub fn decode(buf: &[u8]) -> Vec<DSpan> {
    let r = ParquetRecordBatchReaderBuilder::try_new(Bytes::copy_from_slice(buf))
        .unwrap()
        .with_batch_size(1 << 20)
        .build()
        .unwrap();
    let mut out = Vec::new();
    for b in r {
        let b = b.unwrap();
        let (t, sp, pa) = (b.column(0).as_fixed_size_binary(), b.column(1).as_fixed_size_binary(), b.column(2).as_fixed_size_binary());
        let (nm, sv, msg, at) = (b.column(3).as_string::<i32>(), b.column(4).as_string::<i32>(), b.column(7).as_string::<i32>(), b.column(10).as_string::<i32>());
        let (k, c) = (b.column(5).as_primitive::<Int32Type>(), b.column(6).as_primitive::<Int32Type>());
        let (st, en) = (b.column(8).as_primitive::<Int64Type>(), b.column(9).as_primitive::<Int64Type>());
        for i in 0..b.num_rows() {
            out.push(DSpan {
                trace_id: t.value(i).try_into().unwrap(),
                span_id: sp.value(i).try_into().unwrap(),
                parent: if pa.is_null(i) { None } else { Some(pa.value(i).try_into().unwrap()) },
                name: nm.value(i).to_owned(),
                service: sv.value(i).to_owned(),
                kind: k.value(i) as u8,
                status_code: c.value(i) as u8,
                status_message: msg.value(i).to_owned(),
                start_ns: st.value(i) as u64,
                end_ns: en.value(i) as u64,
                attributes: at.value(i).to_owned(),
            });
        }
    }
    out
}
