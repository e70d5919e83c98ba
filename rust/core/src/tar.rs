//! A small, strict reader of tar archives (WebDataset shards): it lists the regular-file members with
//! the byte range of their data, so that the pipeline can read them sequentially without extracting
//! anything to disk.
//!
//! Supported: POSIX ustar (name + prefix), GNU (`././@LongLink` long names, base-256 sizes) and pax
//! extended headers (`path`, `size`). Every header's checksum is verified; octal and base-256 fields
//! are parsed with overflow checks; long-name and pax records are bounded ([`MAX_META_SIZE`]); a member
//! whose data runs past the end of the file is reported as such. Nothing here panics on hostile
//! input: every problem is a [`TarError`] naming the byte offset and, where known, the member. Parsing
//! stops at the first structural error (a tar has no resynchronisation point), keeping the members
//! listed before it.

use std::io::{self, Read, Seek, SeekFrom};

/// The largest GNU long-name or pax header record we read (tar writers use a few hundred bytes).
pub const MAX_META_SIZE: u64 = 1 << 20;

const BLOCK: u64 = 512;

/// A regular-file member: its full name and where its data lies in the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarMember {
    pub name: String,
    /// Byte offset of the data (just after the header).
    pub offset: u64,
    pub size: u64,
}

/// Why an archive could not be read past some point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarError {
    /// Byte offset of the header at fault.
    pub offset: u64,
    /// The member concerned, when its name is known.
    pub member: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for TarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.member {
            Some(m) => write!(
                f,
                "member '{m}' (header at byte {}): {}",
                self.offset, self.reason
            ),
            None => write!(f, "header at byte {}: {}", self.offset, self.reason),
        }
    }
}

/// The regular-file members of an archive, in archive order, and the error that stopped the listing
/// early, if any.
#[derive(Clone, Debug, Default)]
pub struct TarIndex {
    pub members: Vec<TarMember>,
    pub error: Option<TarError>,
}

/// Octal number of a header field (NUL/space padded), or GNU base-256 (high bit of the first byte).
fn parse_number(field: &[u8]) -> Result<u64, String> {
    if let Some(&first) = field.first() {
        if first & 0x80 != 0 {
            if first & 0x40 != 0 {
                return Err("negative base-256 number".into());
            }
            let mut v: u64 = u64::from(first & 0x3f);
            for &b in &field[1..] {
                v = v
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(u64::from(b)))
                    .ok_or("base-256 number overflows 64 bits")?;
            }
            return Ok(v);
        }
    }
    let text: &[u8] = {
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        let t = &field[..end];
        let start = t.iter().position(|&b| b != b' ').unwrap_or(t.len());
        let stop = t.iter().rposition(|&b| b != b' ').map_or(start, |p| p + 1);
        &t[start..stop.max(start)]
    };
    let mut v: u64 = 0;
    for &b in text {
        if !(b'0'..=b'7').contains(&b) {
            return Err(format!(
                "invalid octal field {:?}",
                String::from_utf8_lossy(field)
            ));
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or("octal number overflows 64 bits")?;
    }
    Ok(v)
}

fn c_string(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn checksum_ok(header: &[u8; 512]) -> Result<bool, String> {
    let stored = parse_number(&header[148..156])?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in header.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    Ok(stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed))
}

/// Parses pax records (`"LEN key=value\n"` repeated) into (key, value) pairs.
fn parse_pax(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or("pax record without a length")?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("pax record with a bad length")?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err("malformed pax record".into());
        }
        let record = &rest[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("pax record without '='")?;
        out.push((
            String::from_utf8_lossy(&record[..eq]).into_owned(),
            record[eq + 1..].to_vec(),
        ));
        rest = &rest[len..];
    }
    Ok(out)
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` on a clean end of file before the first byte.
fn read_block<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if got == 0 {
        return Ok(false);
    }
    if got < buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "file ends inside a header",
        ));
    }
    Ok(true)
}

/// Lists the regular-file members of the tar archive read from `r`, whose total length is `len`
/// bytes. Directories, links, devices and metadata records are not listed.
pub fn index_tar<R: Read + Seek>(mut r: R, len: u64) -> TarIndex {
    let mut index = TarIndex::default();
    let mut pos: u64 = 0;
    let mut long_name: Option<String> = None;
    let mut pax_path: Option<String> = None;
    let mut pax_size: Option<u64> = None;
    let mut header = [0u8; 512];
    let fail = |index: &mut TarIndex, offset: u64, member: Option<String>, reason: String| {
        index.error = Some(TarError {
            offset,
            member,
            reason,
        });
    };
    loop {
        if let Err(e) = r.seek(SeekFrom::Start(pos)) {
            fail(&mut index, pos, None, format!("cannot seek: {e}"));
            break;
        }
        match read_block(&mut r, &mut header) {
            Ok(true) => {}
            Ok(false) => {
                if long_name.is_some() || pax_path.is_some() || pax_size.is_some() {
                    fail(
                        &mut index,
                        pos,
                        None,
                        "file ends after a long-name or pax header".into(),
                    );
                }
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && pos == 0 => {
                fail(
                    &mut index,
                    pos,
                    None,
                    format!("not a tar archive: {len} bytes, shorter than one 512-byte header"),
                );
                break;
            }
            Err(e) => {
                fail(&mut index, pos, None, format!("cannot read header: {e}"));
                break;
            }
        }
        if header.iter().all(|&b| b == 0) {
            // End-of-archive marker (two zero blocks; one is accepted too, as tar and Python do).
            if long_name.is_some() || pax_path.is_some() || pax_size.is_some() {
                fail(
                    &mut index,
                    pos,
                    None,
                    "archive ends after a long-name or pax header".into(),
                );
            }
            break;
        }
        let raw_name = c_string(&header[..100]);
        let shown = || String::from_utf8_lossy(raw_name).into_owned();
        match checksum_ok(&header) {
            Ok(true) => {}
            Ok(false) => {
                let reason = if index.members.is_empty() && pos == 0 {
                    "bad header checksum (not a tar archive, or a damaged one)"
                } else {
                    "bad header checksum (damaged archive)"
                };
                fail(&mut index, pos, None, reason.into());
                break;
            }
            Err(e) => {
                fail(
                    &mut index,
                    pos,
                    None,
                    format!("bad checksum field, {e} (not a tar archive, or a damaged one)"),
                );
                break;
            }
        }
        let typeflag = header[156];
        let mut size = match parse_number(&header[124..136]) {
            Ok(s) => s,
            Err(e) => {
                fail(
                    &mut index,
                    pos,
                    Some(shown()),
                    format!("bad size field: {e}"),
                );
                break;
            }
        };
        let is_meta = matches!(typeflag, b'L' | b'K' | b'x' | b'g');
        if !is_meta {
            if let Some(s) = pax_size.take() {
                size = s;
            }
        }
        let data_start = pos + BLOCK;
        let padded = size.checked_add(BLOCK - 1).map(|s| s / BLOCK * BLOCK);
        let next = padded.and_then(|p| data_start.checked_add(p));
        let Some(next) = next else {
            fail(
                &mut index,
                pos,
                Some(shown()),
                format!("size {size} overflows"),
            );
            break;
        };
        if data_start.checked_add(size).is_none_or(|end| end > len) {
            let name = long_name
                .clone()
                .or_else(|| pax_path.clone())
                .unwrap_or_else(shown);
            fail(
                &mut index,
                pos,
                Some(name),
                format!(
                    "data truncated: {size} bytes announced, the file ends {} bytes after the header",
                    len.saturating_sub(data_start)
                ),
            );
            break;
        }
        if is_meta {
            if size > MAX_META_SIZE {
                fail(
                    &mut index,
                    pos,
                    None,
                    format!("long-name or pax record of {size} bytes (limit {MAX_META_SIZE})"),
                );
                break;
            }
            let mut data = vec![0u8; size as usize];
            if let Err(e) = r.read_exact(&mut data) {
                fail(&mut index, pos, None, format!("cannot read record: {e}"));
                break;
            }
            match typeflag {
                b'L' => long_name = Some(String::from_utf8_lossy(c_string(&data)).into_owned()),
                b'K' => {}
                b'x' | b'g' => match parse_pax(&data) {
                    Ok(records) => {
                        if typeflag == b'x' {
                            for (key, value) in records {
                                match key.as_str() {
                                    "path" => {
                                        pax_path =
                                            Some(String::from_utf8_lossy(&value).into_owned())
                                    }
                                    "size" => {
                                        let parsed = std::str::from_utf8(&value)
                                            .ok()
                                            .and_then(|s| s.parse::<u64>().ok());
                                        match parsed {
                                            Some(s) => pax_size = Some(s),
                                            None => {
                                                fail(
                                                    &mut index,
                                                    pos,
                                                    None,
                                                    "bad pax size record".into(),
                                                );
                                                return index;
                                            }
                                        }
                                    }
                                    _ => {}
                                }
                            }
                        }
                    }
                    Err(e) => {
                        fail(&mut index, pos, None, e);
                        break;
                    }
                },
                _ => {}
            }
            pos = next;
            continue;
        }
        let name = match (pax_path.take(), long_name.take()) {
            (Some(p), _) => p,
            (None, Some(l)) => l,
            (None, None) => {
                let ustar = &header[257..263] == b"ustar\0";
                let prefix = c_string(&header[345..500]);
                if ustar && !prefix.is_empty() {
                    format!(
                        "{}/{}",
                        String::from_utf8_lossy(prefix),
                        String::from_utf8_lossy(raw_name)
                    )
                } else {
                    shown()
                }
            }
        };
        if matches!(typeflag, b'0' | 0 | b'7') {
            if name.ends_with('/') {
                // Old tars mark directories with a trailing slash on a regular-file type.
            } else {
                index.members.push(TarMember {
                    name,
                    offset: data_start,
                    size,
                });
            }
        }
        pos = next;
    }
    index
}

/// Reads `size` bytes at `offset` (a member's data), with a fallible allocation.
pub fn read_range<R: Read + Seek>(r: &mut R, offset: u64, size: u64) -> io::Result<Vec<u8>> {
    let n = usize::try_from(size)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "member too large"))?;
    let mut data = Vec::new();
    data.try_reserve_exact(n).map_err(|_| {
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!("cannot allocate {n} bytes"),
        )
    })?;
    r.seek(SeekFrom::Start(offset))?;
    r.take(size).read_to_end(&mut data)?;
    if data.len() as u64 != size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "{} of {size} bytes (the file changed or is truncated)",
                data.len()
            ),
        ));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn header(name: &[u8], size: u64, typeflag: u8, ustar: bool) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name);
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[156] = typeflag;
        if ustar {
            h[257..263].copy_from_slice(b"ustar\0");
            h[263..265].copy_from_slice(b"00");
        }
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn member(out: &mut Vec<u8>, name: &[u8], data: &[u8], typeflag: u8) {
        out.extend_from_slice(&header(name, data.len() as u64, typeflag, true));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }

    fn index(bytes: &[u8]) -> TarIndex {
        index_tar(Cursor::new(bytes), bytes.len() as u64)
    }

    fn sample() -> Vec<u8> {
        let mut t = Vec::new();
        member(&mut t, b"a.jpg", b"hello", b'0');
        member(&mut t, b"dir/", b"", b'5');
        let long = format!("{}/b.png", "x".repeat(150));
        member(
            &mut t,
            b"././@LongLink",
            format!("{long}\0").as_bytes(),
            b'L',
        );
        member(&mut t, b"ignored", &[7u8; 600], b'0');
        let pax = "19 path=pax/c.webp\n";
        member(&mut t, b"PaxHeader", pax.as_bytes(), b'x');
        member(&mut t, b"short", b"xyz", b'0');
        t.extend_from_slice(&[0u8; 1024]);
        t
    }

    #[test]
    fn lists_ustar_gnu_and_pax_members() {
        let t = sample();
        let idx = index(&t);
        assert_eq!(idx.error, None);
        let names: Vec<_> = idx.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            ["a.jpg", &format!("{}/b.png", "x".repeat(150)), "pax/c.webp"]
        );
        let m = &idx.members[0];
        assert_eq!(
            &t[m.offset as usize..(m.offset + m.size) as usize],
            b"hello"
        );
        assert_eq!(idx.members[1].size, 600);
        let mut c = Cursor::new(&t);
        assert_eq!(
            read_range(&mut c, idx.members[2].offset, 3).unwrap(),
            b"xyz"
        );
    }

    #[test]
    fn damaged_archives_give_errors_not_panics() {
        let t = sample();
        // Truncation anywhere: an error or a clean shorter listing, never a panic.
        for cut in 0..t.len() {
            let idx = index(&t[..cut]);
            assert!(idx.members.len() <= 3);
        }
        let cut = index(&t[..514]);
        assert_eq!(cut.members.len(), 0);
        let e = cut.error.expect("truncated data");
        assert_eq!(e.member.as_deref(), Some("a.jpg"));
        assert!(e.reason.contains("truncated"), "{e}");
        // Flipped bytes everywhere.
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..3000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let mut bad = t.clone();
            let at = (rng % bad.len() as u64) as usize;
            bad[at] ^= 1 << (rng >> 60 & 7);
            let _ = index(&bad);
        }
        // Not a tar at all.
        let e = index(&[b'x'; 2000]).error.expect("not a tar");
        assert!(e.reason.contains("checksum"), "{e}");
        let e = index(b"garbage\n").error.expect("too short");
        assert!(e.reason.contains("not a tar archive"), "{e}");
    }

    #[test]
    fn hostile_sizes_are_refused() {
        let mut h = header(b"big", 0, b'0', true);
        h[124] = 0x80;
        for b in &mut h[125..136] {
            *b = 0xff;
        }
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let idx = index(&h);
        assert!(idx.error.is_some());
        let mut t = Vec::new();
        member(&mut t, b"././@LongLink", &vec![b'a'; 2 << 20], b'L');
        let e = index(&t).error.expect("too long");
        assert!(e.reason.contains("limit"), "{e}");
        assert_eq!(parse_number(b"0000017\0"), Ok(15));
        assert!(parse_number(b"00009\0").is_err());
        assert!(parse_pax(b"99999 path=x\n").is_err());
        assert!(parse_pax(b"5 a\n").is_err());
    }
}
