//! Reading image files and recognising their format: [`read_file`] (regular files only, the
//! signature checked on the first bytes before the rest is read), [`ImageFormat::sniff`] (the
//! signatures Pillow's plugins accept) and the description of unknown leading bytes for errors.

use std::path::Path;

use super::{DecodeError, ImageFormat};

/// Bytes read from a file before its format is checked: enough for every signature [`ImageFormat::sniff`]
/// knows.
const SNIFF_BYTES: usize = 16;

/// The bytes of an image file, or [`DecodeError::Io`] (without the path: callers add it).
///
/// Only regular files are read: a FIFO would block forever and a device (`/dev/zero`) never ends,
/// so anything else is refused before it is opened. The first [`SNIFF_BYTES`] are read and checked
/// against the known signatures before the rest: a file that is not an image costs one small read,
/// whatever its size. The buffer is allocated fallibly from the file's size.
pub fn read_file(path: &Path) -> Result<Vec<u8>, DecodeError> {
    use std::io::Read;
    let io = |e: std::io::Error| DecodeError::Io {
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(DecodeError::Io {
            reason: format!("not a regular file ({})", file_kind(&meta.file_type())),
        });
    }
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = [0u8; SNIFF_BYTES];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    let mut data = Vec::new();
    if got < head.len() || ImageFormat::sniff(&head).is_none() {
        // empty, too short or not an image: `decode` says which, from these bytes alone
        data.extend_from_slice(&head[..got]);
        return Ok(data);
    }
    let size = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    data.try_reserve_exact(size.max(got))
        .map_err(|_| DecodeError::OutOfMemory { bytes: meta.len() })?;
    data.extend_from_slice(&head);
    // The file may have grown since: read to its end anyway (the decoders bound what they use).
    file.read_to_end(&mut data).map_err(io)?;
    Ok(data)
}

/// What a non-regular file is, for the error message.
fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

impl ImageFormat {
    /// Sniffs the format from the first bytes, with the signatures Pillow's plugins accept.
    pub fn sniff(data: &[u8]) -> Option<ImageFormat> {
        if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
            Some(ImageFormat::Gif)
        } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
            Some(ImageFormat::WebP)
        } else if data.starts_with(b"II*\0")
            || data.starts_with(b"MM\0*")
            || data.starts_with(b"II+\0")
            || data.starts_with(b"MM\0+")
        {
            Some(ImageFormat::Tiff)
        } else if data.starts_with(b"BM") {
            Some(ImageFormat::Bmp)
        } else {
            None
        }
    }
}

/// The first bytes in hex plus their printable ASCII, for error messages.
pub(super) fn describe_head(data: &[u8]) -> String {
    let head = &data[..data.len().min(8)];
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let text: String = head
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    format!("{} ({:?})", hex.join(" "), text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, DecodeOptions};

    #[test]
    fn read_file_refuses_what_is_not_a_regular_file_and_sniffs_first() {
        let t = std::time::Instant::now();
        let e = read_file(Path::new("/dev/zero")).unwrap_err();
        assert!(
            e.to_string()
                .contains("not a regular file (a character device)"),
            "{e}"
        );
        let dir = std::env::temp_dir().join(format!("igr-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let e = read_file(&dir).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
        // a large file that is not an image: one small read, then decode says what it is
        let big = dir.join("big.png");
        std::fs::File::create(&big)
            .and_then(|f| f.set_len(3 << 30))
            .expect("sparse file");
        let head = read_file(&big).expect("head");
        assert_eq!(head.len(), SNIFF_BYTES);
        assert_eq!(
            decode(&head, &DecodeOptions::default()).unwrap_err().kind(),
            "unknown-format"
        );
        assert!(t.elapsed().as_secs_f64() < 1.0);
        // short files and real images are read whole
        std::fs::write(&big, b"GIF8").expect("write");
        assert_eq!(read_file(&big).expect("short"), b"GIF8");
        let png = b"\x89PNG\r\n\x1a\n0123456789abcdefghij";
        std::fs::write(&big, png).expect("write");
        assert_eq!(read_file(&big).expect("png"), png);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
