#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Codec {
    None,
    /// ruzstd CompressionLevel::Fastest (the only compressing level ruzstd 0.8 implements)
    Zstd,
    Lz4,
    Deflate(u8),
    /// native reference: C zstd at a level, decoded by ruzstd
    CZstd(i32),
}

impl Codec {
    pub fn id(self) -> u8 {
        match self {
            Codec::None => 0,
            Codec::Zstd => 1,
            Codec::Lz4 => 2,
            Codec::Deflate(_) => 3,
            Codec::CZstd(_) => 1,
        }
    }
    pub fn name(self) -> String {
        match self {
            Codec::None => "none".into(),
            Codec::Zstd => "ruzstd-fastest".into(),
            Codec::Lz4 => "lz4_flex".into(),
            Codec::Deflate(l) => format!("miniz-deflate{l}"),
            Codec::CZstd(l) => format!("C-zstd{l}(ref)"),
        }
    }
    /// The codecs compiled in with the current features.
    pub fn available() -> Vec<Codec> {
        let mut v = vec![Codec::None];
        #[cfg(feature = "zenc")]
        v.push(Codec::Zstd);
        #[cfg(feature = "lz4")]
        v.push(Codec::Lz4);
        #[cfg(feature = "deflate")]
        {
            v.push(Codec::Deflate(1));
            v.push(Codec::Deflate(6));
        }
        #[cfg(feature = "czstd")]
        {
            v.push(Codec::CZstd(3));
            v.push(Codec::CZstd(9));
        }
        v
    }
}

pub fn compress(c: Codec, data: &[u8], out: &mut Vec<u8>) {
    match c {
        Codec::None => out.extend_from_slice(data),
        #[cfg(feature = "zenc")]
        Codec::Zstd => {
            let v = ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest);
            out.extend_from_slice(&v);
        }
        #[cfg(feature = "lz4")]
        Codec::Lz4 => out.extend_from_slice(&lz4_flex::block::compress_prepend_size(data)),
        #[cfg(feature = "deflate")]
        Codec::Deflate(l) => out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, l)),
        #[cfg(feature = "czstd")]
        Codec::CZstd(l) => out.extend_from_slice(&zstd::bulk::compress(data, l).unwrap()),
        #[allow(unreachable_patterns)]
        _ => panic!("codec not compiled in"),
    }
}

pub fn decompress(id: u8, data: &[u8], raw_len: usize) -> Vec<u8> {
    match id {
        0 => data.to_vec(),
        1 => {
            use std::io::Read;
            let mut src = data;
            let mut dec = ruzstd::decoding::StreamingDecoder::new(&mut src).expect("zstd frame");
            let mut v = Vec::with_capacity(raw_len);
            dec.read_to_end(&mut v).expect("zstd");
            v
        }
        #[cfg(feature = "lz4")]
        2 => lz4_flex::block::decompress_size_prepended(data).expect("lz4"),
        3 => miniz_oxide::inflate::decompress_to_vec_with_limit(data, raw_len).expect("inflate"),
        _ => panic!("codec not compiled in"),
    }
}
