//! What the existing Worker core already links: serde_json, flate2 gzip decoding (miniz_oxide),
//! ruzstd decoding, prost, xxh3, rustc-hash.
use std::io::Read;

#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}
#[derive(Clone, PartialEq, prost::Message)]
pub struct PSpan {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(fixed64, tag = "7")]
    pub start: u64,
    #[prost(string, tag = "5")]
    pub name: String,
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    #[prost(int32, tag = "6")]
    pub kind: i32,
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    flate2::read::MultiGzDecoder::new(data).read_to_end(&mut v).unwrap_or(0);
    v
}
pub fn unzstd(mut data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    if let Ok(mut d) = ruzstd::decoding::StreamingDecoder::new(&mut data) {
        let _ = d.read_to_end(&mut v);
    }
    v
}
pub fn json(data: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(v) => serde_json::to_vec(&v).unwrap(),
        Err(e) => e.to_string().into_bytes(),
    }
}
pub fn proto(data: &[u8]) -> Vec<u8> {
    use prost::Message;
    match PSpan::decode(data) {
        Ok(s) => s.encode_to_vec(),
        Err(_) => Vec::new(),
    }
}

#[cfg(target_arch = "wasm32")]
mod exports {
    fn slice<'a>(p: *const u8, l: u32) -> &'a [u8] {
        unsafe { std::slice::from_raw_parts(p, l as usize) }
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn alloc(len: u32) -> *mut u8 {
        let mut v = vec![0u8; len as usize];
        let p = v.as_mut_ptr();
        std::mem::forget(v);
        p
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn base_gunzip(p: *const u8, l: u32) -> u32 { super::gunzip(slice(p, l)).len() as u32 }
    #[unsafe(no_mangle)]
    pub extern "C" fn base_unzstd(p: *const u8, l: u32) -> u32 { super::unzstd(slice(p, l)).len() as u32 }
    #[unsafe(no_mangle)]
    pub extern "C" fn base_json(p: *const u8, l: u32) -> u32 { super::json(slice(p, l)).len() as u32 }
    #[unsafe(no_mangle)]
    pub extern "C" fn base_proto(p: *const u8, l: u32) -> u32 { super::proto(slice(p, l)).len() as u32 }
    #[unsafe(no_mangle)]
    pub extern "C" fn base_xxh(p: *const u8, l: u32) -> u64 { xxhash_rust::xxh3::xxh3_64(slice(p, l)) }
    #[unsafe(no_mangle)]
    pub extern "C" fn base_fxmap(p: *const u8, l: u32) -> u32 {
        let mut m: rustc_hash::FxHashMap<&[u8], u32> = Default::default();
        for w in slice(p, l).split(|&b| b == b' ') { *m.entry(w).or_default() += 1; }
        m.len() as u32
    }
}
