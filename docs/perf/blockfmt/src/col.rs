//! Option B: each column a contiguous byte array, compressed on its own (so a reader can
//! fetch/decompress only the columns it needs), or the whole block as one stream.
use crate::codec::{Codec, compress, decompress};
use crate::spangen::{DSpan, Span, attrs_json};
use crate::varint::{get, put, unzz, zz};
use rustc_hash::FxHashMap;

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Attrs {
    Json,
    Dict,
}

struct Dict<'a> {
    map: FxHashMap<&'a str, u32>,
    words: Vec<&'a str>,
    ids: Vec<u8>,
}
impl<'a> Dict<'a> {
    fn new() -> Self {
        Dict { map: FxHashMap::default(), words: Vec::new(), ids: Vec::new() }
    }
    fn add(&mut self, s: &'a str) {
        let next = self.words.len() as u32;
        let id = *self.map.entry(s).or_insert_with(|| next);
        if id == next {
            self.words.push(s);
        }
        put(&mut self.ids, id as u64);
    }
    /// [count, (len, bytes)*, ids...] with `prefix` (e.g. per-span counts) before the ids
    fn finish(self, prefix: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.ids.len() + prefix.len() + 16 * self.words.len());
        put(&mut out, self.words.len() as u64);
        for w in &self.words {
            put(&mut out, w.len() as u64);
            out.extend_from_slice(w.as_bytes());
        }
        out.extend_from_slice(prefix);
        out.extend_from_slice(&self.ids);
        out
    }
}

fn read_dict(buf: &[u8], pos: &mut usize) -> Vec<String> {
    let n = get(buf, pos) as usize;
    (0..n)
        .map(|_| {
            let l = get(buf, pos) as usize;
            let s = std::str::from_utf8(&buf[*pos..*pos + l]).expect("utf8").to_owned();
            *pos += l;
            s
        })
        .collect()
}

fn columns(spans: &[Span], attrs: Attrs) -> Vec<Vec<u8>> {
    let n = spans.len();
    let mut trace = Vec::with_capacity(n * 16);
    let mut sid = Vec::with_capacity(n * 8);
    let mut parent = vec![0u8; n.div_ceil(8)];
    let (mut name, mut svc, mut msg) = (Dict::new(), Dict::new(), Dict::new());
    let (mut kind, mut code) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut start, mut dur) = (Vec::with_capacity(n * 5), Vec::with_capacity(n * 4));
    let mut prev = 0i64;
    for (i, s) in spans.iter().enumerate() {
        trace.extend_from_slice(&s.trace_id);
        sid.extend_from_slice(&s.span_id);
        if s.parent.is_some() {
            parent[i / 8] |= 1 << (i % 8);
        }
        name.add(&s.name);
        svc.add(&s.service);
        msg.add(&s.status_message);
        kind.push(s.kind);
        code.push(s.status_code);
        put(&mut start, zz(s.start_ns as i64 - prev));
        prev = s.start_ns as i64;
        put(&mut dur, s.end_ns - s.start_ns);
    }
    for s in spans {
        if let Some(p) = s.parent {
            parent.extend_from_slice(&p);
        }
    }
    let mut cols = vec![trace, sid, parent, name.finish(&[]), svc.finish(&[]), kind, code, msg.finish(&[]), start, dur];
    match attrs {
        Attrs::Json => {
            let mut lens = Vec::with_capacity(n * 2);
            let mut text = Vec::with_capacity(n * 300);
            for s in spans {
                let j = attrs_json(&s.attrs);
                put(&mut lens, j.len() as u64);
                text.extend_from_slice(j.as_bytes());
            }
            lens.extend_from_slice(&text);
            cols.push(lens);
        }
        Attrs::Dict => {
            let (mut keys, mut vals) = (Dict::new(), Dict::new());
            let mut counts = Vec::with_capacity(n);
            for s in spans {
                put(&mut counts, s.attrs.len() as u64);
                for (k, v) in &s.attrs {
                    keys.add(k);
                    vals.add(v);
                }
            }
            cols.push(keys.finish(&counts));
            cols.push(vals.finish(&[]));
        }
    }
    cols
}

/// header: "OWB1", n, attrs kind, whole?, ncols, per column (codec, raw_len, stored_len)
pub fn encode(spans: &[Span], attrs: Attrs, codec: Codec, whole: bool) -> Vec<u8> {
    let cols = columns(spans, attrs);
    let mut out = Vec::with_capacity(spans.len() * 64);
    out.extend_from_slice(b"OWB1");
    put(&mut out, spans.len() as u64);
    out.push(attrs as u8);
    out.push(whole as u8);
    if whole {
        let mut raw = Vec::new();
        put(&mut out, cols.len() as u64);
        for c in &cols {
            put(&mut out, c.len() as u64);
            raw.extend_from_slice(c);
        }
        out.push(codec.id());
        put(&mut out, raw.len() as u64);
        compress(codec, &raw, &mut out);
        return out;
    }
    let stored: Vec<Vec<u8>> = cols
        .iter()
        .map(|c| {
            let mut v = Vec::new();
            compress(codec, c, &mut v);
            v
        })
        .collect();
    put(&mut out, cols.len() as u64);
    for (c, s) in cols.iter().zip(&stored) {
        out.push(codec.id());
        put(&mut out, c.len() as u64);
        put(&mut out, s.len() as u64);
    }
    for s in &stored {
        out.extend_from_slice(s);
    }
    out
}

pub fn decode(buf: &[u8]) -> Vec<DSpan> {
    assert_eq!(&buf[..4], b"OWB1");
    let mut p = 4;
    let n = get(buf, &mut p) as usize;
    let attrs = if buf[p] == 0 { Attrs::Json } else { Attrs::Dict };
    let whole = buf[p + 1] == 1;
    p += 2;
    let ncols = get(buf, &mut p) as usize;
    let cols: Vec<Vec<u8>> = if whole {
        let lens: Vec<usize> = (0..ncols).map(|_| get(buf, &mut p) as usize).collect();
        let codec = buf[p];
        p += 1;
        let raw_len = get(buf, &mut p) as usize;
        let raw = decompress(codec, &buf[p..], raw_len);
        let mut at = 0;
        lens.iter()
            .map(|&l| {
                at += l;
                raw[at - l..at].to_vec()
            })
            .collect()
    } else {
        let hdr: Vec<(u8, usize, usize)> = (0..ncols)
            .map(|_| {
                let c = buf[p];
                p += 1;
                (c, get(buf, &mut p) as usize, get(buf, &mut p) as usize)
            })
            .collect();
        hdr.iter()
            .map(|&(c, raw, st)| {
                p += st;
                decompress(c, &buf[p - st..p], raw)
            })
            .collect()
    };
    let mut out: Vec<DSpan> = (0..n).map(|_| DSpan::default()).collect();
    let mut parents_at = n.div_ceil(8);
    for (i, s) in out.iter_mut().enumerate() {
        s.trace_id.copy_from_slice(&cols[0][i * 16..i * 16 + 16]);
        s.span_id.copy_from_slice(&cols[1][i * 8..i * 8 + 8]);
        if cols[2][i / 8] & (1 << (i % 8)) != 0 {
            s.parent = Some(cols[2][parents_at..parents_at + 8].try_into().unwrap());
            parents_at += 8;
        }
        s.kind = cols[5][i];
        s.status_code = cols[6][i];
    }
    for (ci, f) in [(3usize, 0u8), (4, 1), (7, 2)] {
        let c = &cols[ci];
        let mut q = 0;
        let d = read_dict(c, &mut q);
        for s in out.iter_mut() {
            let v = d[get(c, &mut q) as usize].clone();
            match f {
                0 => s.name = v,
                1 => s.service = v,
                _ => s.status_message = v,
            }
        }
    }
    let (mut q1, mut q2, mut prev) = (0, 0, 0i64);
    for s in out.iter_mut() {
        prev += unzz(get(&cols[8], &mut q1));
        s.start_ns = prev as u64;
        s.end_ns = s.start_ns + get(&cols[9], &mut q2);
    }
    match attrs {
        Attrs::Json => {
            let c = &cols[10];
            let mut q = 0;
            let lens: Vec<usize> = (0..n).map(|_| get(c, &mut q) as usize).collect();
            for (s, l) in out.iter_mut().zip(lens) {
                s.attributes = std::str::from_utf8(&c[q..q + l]).expect("utf8").to_owned();
                q += l;
            }
        }
        Attrs::Dict => {
            let (kc, vc) = (&cols[10], &cols[11]);
            let (mut qk, mut qv) = (0, 0);
            let keys = read_dict(kc, &mut qk);
            let vals = read_dict(vc, &mut qv);
            let counts: Vec<usize> = (0..n).map(|_| get(kc, &mut qk) as usize).collect();
            for (s, cnt) in out.iter_mut().zip(counts) {
                let mut j = String::with_capacity(256);
                j.push('{');
                for a in 0..cnt {
                    if a > 0 {
                        j.push(',');
                    }
                    j.push('"');
                    j.push_str(&keys[get(kc, &mut qk) as usize]);
                    j.push_str("\":");
                    j.push_str(&vals[get(vc, &mut qv) as usize]);
                }
                j.push('}');
                s.attributes = j;
            }
        }
    }
    out
}
