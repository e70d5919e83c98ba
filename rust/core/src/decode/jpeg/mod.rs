//! JPEG: the entry points [`decode`](super::decode) and [`decode_rows`](super::decode_rows) call,
//! and the truncation check both decoders share.
//!
//! - `turbojpeg.rs`: a minimal safe wrapper of libjpeg-turbo's TurboJPEG 3 API;
//! - `whole.rs`: whole-image decoding with it (draft scaling, the checks Pillow makes);
//! - `rows.rs` and `jpeg_rows.c`: row-by-row decoding through the libjpeg API, for streaming;
//! - `zune.rs`: the pure-Rust zune-jpeg fallback (builds without libjpeg-turbo, or on request).
//!
//! Without the `libjpeg-turbo` feature only `zune.rs` is compiled, and the libjpeg-turbo entry
//! points below say it is unavailable.

#[cfg(feature = "libjpeg-turbo")]
mod rows;
#[cfg(feature = "libjpeg-turbo")]
mod turbojpeg;
#[cfg(feature = "libjpeg-turbo")]
mod whole;
mod zune;

#[cfg(feature = "libjpeg-turbo")]
pub(super) use rows::jpeg_rows;
#[cfg(feature = "libjpeg-turbo")]
pub(super) use whole::decode_jpeg_turbo;
pub(super) use zune::decode_jpeg_zune;

#[cfg(not(feature = "libjpeg-turbo"))]
use super::{DecodeError, DecodeOptions, DecodedImage, RgbRows};

/// Walks the JPEG marker structure (segments and entropy-coded data) looking for the EOI marker.
/// `Err` names where the data ends early. Pillow fails on such files ("image file is truncated"),
/// while libjpeg-turbo pads them with gray and only warns (and reports just its first warning, so
/// a truncation after another warning cannot be seen from its messages).
fn jpeg_truncation(data: &[u8]) -> Result<(), String> {
    let n = data.len();
    let mut pos = 2; // after SOI
    loop {
        // Find the next marker: libjpeg skips (and warns about) stray bytes, then 0xFF fill bytes.
        while pos < n && data[pos] != 0xFF {
            pos += 1;
        }
        while pos < n && data[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = data.get(pos) else {
            return Err(String::from("the data ends before the EOI marker"));
        };
        pos += 1;
        match marker {
            0xD9 => return Ok(()),
            0x00 | 0x01 | 0xD0..=0xD8 => continue,
            _ => {}
        }
        if pos + 2 > n {
            return Err(format!(
                "the data ends inside the length of marker 0xFF{marker:02X}"
            ));
        }
        let len = u16::from_be_bytes([data[pos], data[pos + 1]]) as usize;
        if pos + len > n {
            return Err(format!(
                "the data ends inside the segment of marker 0xFF{marker:02X}"
            ));
        }
        pos += len.max(2);
        if marker == 0xDA {
            // Entropy-coded data: runs until a 0xFF that is not stuffing (0xFF00) nor a restart marker.
            loop {
                while pos < n && data[pos] != 0xFF {
                    pos += 1;
                }
                let mut next = pos;
                while next < n && data[next] == 0xFF {
                    next += 1;
                }
                match data.get(next) {
                    None => return Err(String::from("the data ends inside the scan data")),
                    Some(0x00) | Some(0xD0..=0xD7) => pos = next + 1,
                    Some(_) => break,
                }
            }
        }
    }
}

#[cfg(not(feature = "libjpeg-turbo"))]
pub(super) fn jpeg_rows(
    _data: &[u8],
    _options: &DecodeOptions,
    _sink: &mut dyn RgbRows,
) -> Option<()> {
    None
}

#[cfg(not(feature = "libjpeg-turbo"))]
pub(super) fn decode_jpeg_turbo(
    _data: &[u8],
    _options: &DecodeOptions,
) -> Result<DecodedImage, DecodeError> {
    Err(DecodeError::DecoderUnavailable("libjpeg-turbo"))
}

#[cfg(test)]
mod tests {
    use crate::decode::test_support::fuzz;
    use crate::decode::{decode, DecodeOptions, JpegDecoder};

    /// A 24x16 progressive 4:2:0 JPEG of a crop of skimage's astronaut photo, written by Pillow.
    const TINY_JPEG_HEX: &str = concat!(
        "ffd8ffe000104a46494600010100000100010000ffdb0043000a07070807060a0808080b0a0a0b0e18100e0d0d0e1d15",
        "161118231f2524221f2221262b372f26293429212230413134393b3e3e3e252e4449433c48373d3e3bffdb0043010a0b",
        "0b0e0d0e1c10101c3b2822283b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b3b",
        "3b3b3b3b3b3b3b3b3b3b3b3b3b3bffc20011080010001803012200021101031101ffc400180000020300000000000000",
        "0000000000000001030405ffc4001501010100000000000000000000000000000003ffda000c03010002100310000001",
        "7774a385d0c3ffc4001a100003000301000000000000000000000000010203041221ffda00080101000105025a5516e3",
        "ac91e1c9494927ffc40014110100000000000000000000000000000010ffda0008010301013f013fffc4001411010000",
        "0000000000000000000000000010ffda0008010201013f013fffc4001a10000202030000000000000000000000000111",
        "0210002141ffda0008010100063f0289326070e34ab66fffc40019100003010101000000000000000000000000013111",
        "2141ffda0008010100013f21ea11e226886ae0fc1646ae846a708fffda000c03010002000300000010fb0fffc4001511",
        "010100000000000000000000000000000100ffda0008010301013f1024bfffc400161100030000000000000000000000",
        "000000000131ffda0008010201013f107050ffc4001b10000202030100000000000000000000000111002141516131ff",
        "da0008010100013f1075048a407a5dec0002837a8a21601ab81ec2d9812acb73203ccfffd9",
    );

    fn tiny_jpeg() -> Vec<u8> {
        (0..TINY_JPEG_HEX.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&TINY_JPEG_HEX[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn jpeg_decodes_and_survives_fuzzing() {
        let data = tiny_jpeg();
        let img = decode(&data, &DecodeOptions::default()).unwrap();
        assert_eq!((img.width, img.height, img.source_mode), (24, 16, "RGB"));
        let zune = decode(
            &data,
            &DecodeOptions {
                jpeg_decoder: JpegDecoder::ZuneJpeg,
                ..DecodeOptions::default()
            },
        )
        .unwrap();
        assert_eq!((zune.width, zune.height), (24, 16));
        assert!(img
            .data
            .iter()
            .zip(&zune.data)
            .all(|(a, b)| a.abs_diff(*b) <= 8));
        for cut in [3, 20, data.len() / 2, data.len() - 1] {
            let e = decode(&data[..cut], &DecodeOptions::default()).unwrap_err();
            assert_eq!(e.kind(), "truncated", "{cut}: {e}");
        }
        fuzz(&data, 0x9E37_79B9_7F4A_7C15);
    }
}
