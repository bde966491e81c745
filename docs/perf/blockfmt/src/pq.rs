//! Option A: parquet crate, low-level typed column writers/readers (no arrow).
use crate::spangen::{DSpan, Span, attrs_json};
use crate::col::Attrs;
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, GzipLevel};
use parquet::column::reader::get_typed_column_reader;
use parquet::data_type::*;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PqCodec {
    None,
    Snappy,
    Lz4Raw,
    Gzip(u32),
    #[cfg(feature = "pqzstd")]
    Zstd(i32),
}
impl PqCodec {
    pub fn available() -> Vec<PqCodec> {
        #[allow(unused_mut)]
        let mut v = vec![PqCodec::None];
        #[cfg(feature = "pqcodecs")]
        v.extend([PqCodec::Snappy, PqCodec::Lz4Raw, PqCodec::Gzip(6)]);
        #[cfg(feature = "pqzstd")]
        {
            v.push(PqCodec::Zstd(1));
            v.push(PqCodec::Zstd(3));
        }
        v
    }
    pub fn get(self) -> Compression {
        match self {
            PqCodec::None => Compression::UNCOMPRESSED,
            PqCodec::Snappy => Compression::SNAPPY,
            PqCodec::Lz4Raw => Compression::LZ4_RAW,
            PqCodec::Gzip(l) => Compression::GZIP(GzipLevel::try_new(l).unwrap()),
            #[cfg(feature = "pqzstd")]
            PqCodec::Zstd(l) => Compression::ZSTD(parquet::basic::ZstdLevel::try_new(l).unwrap()),
        }
    }
}

const SCHEMA_HEAD: &str = "
  REQUIRED FIXED_LEN_BYTE_ARRAY (16) trace_id;
  REQUIRED FIXED_LEN_BYTE_ARRAY (8) span_id;
  OPTIONAL FIXED_LEN_BYTE_ARRAY (8) parent_span_id;
  REQUIRED BYTE_ARRAY name (UTF8);
  REQUIRED BYTE_ARRAY service_name (UTF8);
  REQUIRED INT32 kind;
  REQUIRED INT32 status_code;
  REQUIRED BYTE_ARRAY status_message (UTF8);
  REQUIRED INT64 start_ns;
  REQUIRED INT64 end_ns;";

fn ba(s: &str) -> ByteArray {
    ByteArray::from(s.as_bytes().to_vec())
}

pub fn encode(spans: &[Span], attrs: Attrs, codec: PqCodec) -> Vec<u8> {
    let tail = match attrs {
        Attrs::Json => "REQUIRED BYTE_ARRAY attributes (UTF8);",
        Attrs::Dict => "REPEATED GROUP attrs { REQUIRED BYTE_ARRAY key (UTF8); REQUIRED BYTE_ARRAY value (UTF8); }",
    };
    let schema = Arc::new(parse_message_type(&format!("message span {{ {SCHEMA_HEAD} {tail} }}")).unwrap());
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
    let mut w = SerializedFileWriter::new(&mut buf, schema, Arc::new(props)).unwrap();
    let mut rg = w.next_row_group().unwrap();
    let mut ci = 0;
    while let Some(mut c) = rg.next_column().unwrap() {
        match ci {
            0 => {
                let v: Vec<FixedLenByteArray> = spans.iter().map(|s| s.trace_id.to_vec().into()).collect();
                c.typed::<FixedLenByteArrayType>().write_batch(&v, None, None).unwrap();
            }
            1 => {
                let v: Vec<FixedLenByteArray> = spans.iter().map(|s| s.span_id.to_vec().into()).collect();
                c.typed::<FixedLenByteArrayType>().write_batch(&v, None, None).unwrap();
            }
            2 => {
                let v: Vec<FixedLenByteArray> = spans.iter().filter_map(|s| s.parent.map(|p| p.to_vec().into())).collect();
                let d: Vec<i16> = spans.iter().map(|s| s.parent.is_some() as i16).collect();
                c.typed::<FixedLenByteArrayType>().write_batch(&v, Some(&d), None).unwrap();
            }
            3 | 4 | 7 => {
                let v: Vec<ByteArray> = spans
                    .iter()
                    .map(|s| ba(match ci { 3 => &s.name, 4 => &s.service, _ => &s.status_message }))
                    .collect();
                c.typed::<ByteArrayType>().write_batch(&v, None, None).unwrap();
            }
            5 | 6 => {
                let v: Vec<i32> = spans.iter().map(|s| if ci == 5 { s.kind } else { s.status_code } as i32).collect();
                c.typed::<Int32Type>().write_batch(&v, None, None).unwrap();
            }
            8 | 9 => {
                let v: Vec<i64> = spans.iter().map(|s| if ci == 8 { s.start_ns } else { s.end_ns } as i64).collect();
                c.typed::<Int64Type>().write_batch(&v, None, None).unwrap();
            }
            10 if attrs == Attrs::Json => {
                let v: Vec<ByteArray> = spans.iter().map(|s| ba(&attrs_json(&s.attrs))).collect();
                c.typed::<ByteArrayType>().write_batch(&v, None, None).unwrap();
            }
            10 | 11 => {
                let mut v = Vec::new();
                let (mut d, mut r) = (Vec::new(), Vec::new());
                for s in spans {
                    if s.attrs.is_empty() {
                        d.push(0);
                        r.push(0);
                    }
                    for (i, (k, val)) in s.attrs.iter().enumerate() {
                        v.push(ba(if ci == 10 { k } else { val }));
                        d.push(1);
                        r.push((i > 0) as i16);
                    }
                }
                c.typed::<ByteArrayType>().write_batch(&v, Some(&d), Some(&r)).unwrap();
            }
            _ => unreachable!(),
        }
        c.close().unwrap();
        ci += 1;
    }
    rg.close().unwrap();
    w.close().unwrap();
    buf
}

fn read_all<T: DataType>(rg: &dyn parquet::file::reader::RowGroupReader, i: usize, n: usize, nested: bool)
    -> (Vec<T::T>, Vec<i16>, Vec<i16>)
where
    T::T: Default + Clone,
{
    let mut r = get_typed_column_reader::<T>(rg.get_column_reader(i).unwrap());
    let (mut v, mut d, mut rep) = (Vec::new(), Vec::new(), Vec::new());
    let mut got = 0;
    while got < n {
        let (recs, _, _) = r
            .read_records(n - got, Some(&mut d), if nested { Some(&mut rep) } else { None }, &mut v)
            .unwrap();
        if recs == 0 {
            break;
        }
        got += recs;
    }
    (v, d, rep)
}

fn s(b: &ByteArray) -> String {
    b.as_utf8().unwrap().to_owned()
}

pub fn decode(buf: &[u8]) -> Vec<DSpan> {
    let reader = SerializedFileReader::new(Bytes::copy_from_slice(buf)).unwrap();
    let n = reader.metadata().file_metadata().num_rows() as usize;
    let ncols = reader.metadata().file_metadata().schema_descr().num_columns();
    let rg = reader.get_row_group(0).unwrap();
    let rg = rg.as_ref();
    let mut out: Vec<DSpan> = (0..n).map(|_| DSpan::default()).collect();
    let (t, _, _) = read_all::<FixedLenByteArrayType>(rg, 0, n, false);
    let (sp, _, _) = read_all::<FixedLenByteArrayType>(rg, 1, n, false);
    let (pa, pd, _) = read_all::<FixedLenByteArrayType>(rg, 2, n, false);
    let (name, _, _) = read_all::<ByteArrayType>(rg, 3, n, false);
    let (svc, _, _) = read_all::<ByteArrayType>(rg, 4, n, false);
    let (kind, _, _) = read_all::<Int32Type>(rg, 5, n, false);
    let (code, _, _) = read_all::<Int32Type>(rg, 6, n, false);
    let (msg, _, _) = read_all::<ByteArrayType>(rg, 7, n, false);
    let (st, _, _) = read_all::<Int64Type>(rg, 8, n, false);
    let (en, _, _) = read_all::<Int64Type>(rg, 9, n, false);
    let mut pi = 0;
    for (i, o) in out.iter_mut().enumerate() {
        o.trace_id.copy_from_slice(t[i].data());
        o.span_id.copy_from_slice(sp[i].data());
        if pd[i] == 1 {
            o.parent = Some(pa[pi].data().try_into().unwrap());
            pi += 1;
        }
        o.name = s(&name[i]);
        o.service = s(&svc[i]);
        o.kind = kind[i] as u8;
        o.status_code = code[i] as u8;
        o.status_message = s(&msg[i]);
        o.start_ns = st[i] as u64;
        o.end_ns = en[i] as u64;
    }
    if ncols == 11 {
        let (a, _, _) = read_all::<ByteArrayType>(rg, 10, n, false);
        for (o, a) in out.iter_mut().zip(&a) {
            o.attributes = s(a);
        }
    } else {
        let (k, d, r) = read_all::<ByteArrayType>(rg, 10, n, true);
        let (v, _, _) = read_all::<ByteArrayType>(rg, 11, n, true);
        let (mut row, mut vi) = (usize::MAX, 0);
        for (lvl, &rep) in r.iter().enumerate() {
            if rep == 0 {
                row = row.wrapping_add(1);
                out[row].attributes.push('{');
            }
            if d[lvl] == 0 {
                continue;
            }
            let j = &mut out[row].attributes;
            if rep == 1 {
                j.push(',');
            }
            j.push('"');
            j.push_str(k[vi].as_utf8().unwrap());
            j.push_str("\":");
            j.push_str(v[vi].as_utf8().unwrap());
            vi += 1;
        }
        for o in out.iter_mut() {
            o.attributes.push('}');
        }
    }
    out
}
