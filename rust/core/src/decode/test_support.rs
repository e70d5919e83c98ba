//! Test helpers shared by the codecs' tests: a deterministic generator and [`fuzz`], which decodes
//! every truncation and many random mutations of a file and checks that nothing panics.

use super::{decode, DecodeOptions, JpegDecoder};

/// A deterministic xorshift generator (no dev-dependency needed).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Every truncation and many random mutations: never a panic, only images or errors.
pub(super) fn fuzz(data: &[u8], seed: u64) {
    let decoders = [JpegDecoder::ZuneJpeg, JpegDecoder::DEFAULT];
    for cut in 0..data.len() {
        for jpeg_decoder in decoders {
            let o = DecodeOptions {
                jpeg_decoder,
                ..DecodeOptions::default()
            };
            if let Ok(img) = decode(&data[..cut], &o) {
                assert_eq!(img.data.len(), img.width as usize * img.height as usize * 3);
            }
        }
    }
    let mut rng = Rng(seed);
    for _ in 0..1500 {
        let mut m = data.to_vec();
        for _ in 0..1 + rng.below(6) {
            let i = rng.below(m.len());
            m[i] = rng.next() as u8;
        }
        if rng.below(4) == 0 {
            m.truncate(1 + rng.below(m.len()));
        }
        for jpeg_decoder in decoders {
            let o = DecodeOptions {
                jpeg_decoder,
                draft: Some((4, 4)),
                max_pixels: Some(1 << 22),
            };
            if let Ok(img) = decode(&m, &o) {
                assert_eq!(img.data.len(), img.width as usize * img.height as usize * 3);
            }
        }
    }
}
