pub mod codec;
pub mod spangen;
pub mod varint;
pub mod col;
#[cfg(feature = "jsonrows")]
pub mod jsonrows;
#[cfg(feature = "pq")]
pub mod pq;
pub mod baseline;
#[cfg(feature = "pqarrow")]
pub mod pqa;

use codec::Codec;
use col::Attrs;
use spangen::{DSpan, Span};

#[derive(Clone, Copy, Debug)]
pub enum Opt {
    #[cfg(feature = "jsonrows")]
    Json(Codec),
    #[cfg(feature = "col")]
    Col(Attrs, Codec, bool),
    #[cfg(feature = "pq")]
    Pq(Attrs, pq::PqCodec),
    #[cfg(feature = "pqarrow")]
    PqArrow(pq::PqCodec),
}

#[allow(unused_mut)]
pub fn options() -> Vec<Opt> {
    let mut v = Vec::new();
    #[cfg(all(feature = "pq", not(feature = "nopqlow")))]
    for a in [Attrs::Json, Attrs::Dict] {
        for c in pq::PqCodec::available() {
            v.push(Opt::Pq(a, c));
        }
    }
    #[cfg(feature = "pqarrow")]
    for c in pq::PqCodec::available() {
        v.push(Opt::PqArrow(c));
    }
    #[cfg(feature = "col")]
    for a in [Attrs::Json, Attrs::Dict] {
        for c in Codec::available() {
            v.push(Opt::Col(a, c, false));
        }
        for c in Codec::available().into_iter().skip(1) {
            v.push(Opt::Col(a, c, true));
        }
    }
    #[cfg(feature = "jsonrows")]
    for c in Codec::available() {
        v.push(Opt::Json(c));
    }
    v
}

pub fn name(o: &Opt) -> String {
    let _ = Attrs::Json;
    match *o {
        #[cfg(feature = "jsonrows")]
        Opt::Json(c) => format!("C json-rows {}", c.name()),
        #[cfg(feature = "col")]
        Opt::Col(a, c, w) => format!("B col attrs={:?} {}{}", a, c.name(), if w { " whole-block" } else { " per-column" }),
        #[cfg(feature = "pq")]
        Opt::Pq(a, c) => format!("A parquet attrs={:?} {:?}", a, c),
        #[cfg(feature = "pqarrow")]
        Opt::PqArrow(c) => format!("A' parquet+arrow attrs=Json {:?}", c),
        #[allow(unreachable_patterns)]
        _ => unreachable!(),
    }
}

#[allow(unused_variables)]
pub fn encode(o: &Opt, spans: &[Span]) -> Vec<u8> {
    match *o {
        #[cfg(feature = "jsonrows")]
        Opt::Json(c) => jsonrows::encode(spans, c),
        #[cfg(feature = "col")]
        Opt::Col(a, c, w) => col::encode(spans, a, c, w),
        #[cfg(feature = "pq")]
        Opt::Pq(a, c) => pq::encode(spans, a, c),
        #[cfg(feature = "pqarrow")]
        Opt::PqArrow(c) => pqa::encode(spans, c),
        #[allow(unreachable_patterns)]
        _ => unreachable!(),
    }
}

#[allow(unused_variables)]
pub fn decode(o: &Opt, buf: &[u8]) -> Vec<DSpan> {
    match *o {
        #[cfg(feature = "jsonrows")]
        Opt::Json(_) => jsonrows::decode(buf),
        #[cfg(feature = "col")]
        Opt::Col(..) => col::decode(buf),
        #[cfg(feature = "pq")]
        Opt::Pq(..) => pq::decode(buf),
        #[cfg(feature = "pqarrow")]
        Opt::PqArrow(..) => pqa::decode(buf),
        #[allow(unreachable_patterns)]
        _ => unreachable!(),
    }
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::*;
    use std::cell::RefCell;
    thread_local! {
        static SPANS: RefCell<Vec<Span>> = RefCell::new(Vec::new());
        static EXPECT: RefCell<Vec<DSpan>> = RefCell::new(Vec::new());
        static BLOBS: RefCell<Vec<Vec<u8>>> = RefCell::new(Vec::new());
        static LAST: RefCell<Vec<DSpan>> = RefCell::new(Vec::new());
        static NAME: RefCell<String> = RefCell::new(String::new());
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn prepare(n: u32, global: u32) -> u32 {
        let s = spangen::generate(n as usize, 42, global != 0);
        EXPECT.with(|e| *e.borrow_mut() = s.iter().map(|x| x.to_d()).collect());
        SPANS.with(|x| *x.borrow_mut() = s);
        BLOBS.with(|b| *b.borrow_mut() = vec![Vec::new(); options().len()]);
        options().len() as u32
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn opt_name(i: u32) -> *const u8 {
        NAME.with(|n| {
            *n.borrow_mut() = name(&options()[i as usize]);
            n.borrow().as_ptr()
        })
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn opt_name_len() -> u32 {
        NAME.with(|n| n.borrow().len() as u32)
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn enc(i: u32) -> u32 {
        let o = options()[i as usize];
        let b = SPANS.with(|s| encode(&o, &s.borrow()));
        let l = b.len() as u32;
        BLOBS.with(|x| x.borrow_mut()[i as usize] = b);
        l
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn dec(i: u32) -> u32 {
        let o = options()[i as usize];
        let d = BLOBS.with(|x| decode(&o, &x.borrow()[i as usize]));
        let n = d.len() as u32;
        LAST.with(|l| *l.borrow_mut() = d);
        n
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn verify() -> u32 {
        LAST.with(|l| EXPECT.with(|e| (*l.borrow() == *e.borrow()) as u32))
    }
    /// Keeps every compressor of the enabled features reachable, even without a format.
    #[unsafe(no_mangle)]
    pub extern "C" fn compress_buf(i: u32, ptr: *const u8, len: u32) -> u32 {
        let data = unsafe { std::slice::from_raw_parts(ptr, len as usize) };
        let c = Codec::available()[i as usize % Codec::available().len()];
        let mut out = Vec::new();
        codec::compress(c, data, &mut out);
        let back = codec::decompress(c.id(), &out[..], len as usize);
        (out.len() + back.len()) as u32
    }
}
