//! Row-by-row JPEG decoding with libjpeg-turbo's libjpeg API (through `jpeg_rows.c`), for
//! [`decode_rows`](crate::decode::decode_rows): the rows are exactly those of the whole-image
//! decoding in `whole.rs`, or nothing is streamed.

use super::whole::turbo_setup;
use crate::buffers::zeroed_bytes;
use crate::decode::convert::pillow_cmyk_to_rgb;
use crate::decode::{DecodeOptions, JpegDecoder, RgbRows, MAX_JPEG_SCANS};

mod jpeg_scanlines {
    //! Row-by-row decoding through the libjpeg API of the same vendored libjpeg-turbo, by way of
    //! the small C file `jpeg_rows.c` (libjpeg's errors longjmp, which only C frames may see).

    use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr};

    extern "C" {
        fn igpt_jpeg_new() -> *mut c_void;
        fn igpt_jpeg_free(h: *mut c_void);
        fn igpt_jpeg_start(
            h: *mut c_void,
            data: *const u8,
            len: c_ulong,
            scan_limit: c_int,
            width: *mut c_uint,
            height: *mut c_uint,
            components: *mut c_int,
        ) -> c_int;
        fn igpt_jpeg_read(h: *mut c_void, buf: *mut u8, stride: usize, max_rows: c_uint) -> c_int;
        fn igpt_jpeg_finish(h: *mut c_void) -> c_int;
        fn igpt_jpeg_warned(h: *const c_void) -> c_int;
        fn igpt_jpeg_message(h: *const c_void) -> *const c_char;
    }

    /// Most rows one [`RowDecoder::read`] returns (the C side's row-pointer array).
    pub const MAX_ROWS: usize = 64;

    /// A started libjpeg decompression of a borrowed buffer.
    pub struct RowDecoder<'a> {
        h: std::ptr::NonNull<c_void>,
        pub width: usize,
        pub height: usize,
        pub components: usize,
        _data: std::marker::PhantomData<&'a [u8]>,
    }

    impl<'a> RowDecoder<'a> {
        /// Reads the headers and starts decompressing `data`; None on any error.
        pub fn start(data: &'a [u8], scan_limit: i32) -> Option<Self> {
            let len = c_ulong::try_from(data.len()).ok()?;
            // SAFETY: igpt_jpeg_new has no preconditions and returns NULL on failure.
            let h = std::ptr::NonNull::new(unsafe { igpt_jpeg_new() })?;
            let (mut w, mut ht, mut c): (c_uint, c_uint, c_int) = (0, 0, 0);
            let mut dec = RowDecoder {
                h,
                width: 0,
                height: 0,
                components: 0,
                _data: std::marker::PhantomData,
            };
            // SAFETY: h is a live handle from igpt_jpeg_new (freed only by Drop); data is valid
            // for reads of len bytes for 'a, which outlives the handle's use of it (the handle is
            // dropped, or finished, within 'a: RowDecoder<'a> borrows data); the out-pointers
            // point to live locals.
            let rc = unsafe {
                igpt_jpeg_start(
                    h.as_ptr(),
                    data.as_ptr(),
                    len,
                    scan_limit,
                    &mut w,
                    &mut ht,
                    &mut c,
                )
            };
            if rc != 0 {
                return None;
            }
            dec.width = w as usize;
            dec.height = ht as usize;
            dec.components = usize::try_from(c).ok()?;
            Some(dec)
        }

        /// Decodes the next rows into `buf` (rows of `stride` bytes, at most [`MAX_ROWS`] and
        /// `buf.len() / stride`); the number of rows, 0 at the end, None on an error.
        pub fn read(&mut self, buf: &mut [u8], stride: usize) -> Option<usize> {
            if stride < self.width.checked_mul(self.components)? || stride == 0 {
                return None;
            }
            let rows = (buf.len() / stride).min(MAX_ROWS);
            // SAFETY: the handle is live and started; buf is valid for writes of rows * stride
            // bytes, and libjpeg writes at most `rows` rows of width * components <= stride
            // bytes, row i at buf + i * stride (checked above).
            let n = unsafe {
                igpt_jpeg_read(self.h.as_ptr(), buf.as_mut_ptr(), stride, rows as c_uint)
            };
            usize::try_from(n).ok()
        }

        /// Reads to the end of the image; false on an error.
        pub fn finish(&mut self) -> bool {
            // SAFETY: the handle is live and started.
            unsafe { igpt_jpeg_finish(self.h.as_ptr()) == 0 }
        }

        /// Whether libjpeg warned (corrupt data worked around, premature end).
        pub fn warned(&self) -> bool {
            // SAFETY: the handle is live; the call only reads it.
            unsafe { igpt_jpeg_warned(self.h.as_ptr()) != 0 }
        }

        /// The error message, else the first warning.
        #[allow(dead_code)]
        pub fn message(&self) -> String {
            // SAFETY: the handle is live; the message is a NUL-terminated array inside it
            // (zeroed at creation, written with snprintf-like bounds by libjpeg), copied at once.
            unsafe { CStr::from_ptr(igpt_jpeg_message(self.h.as_ptr())) }
                .to_string_lossy()
                .into_owned()
        }
    }

    impl Drop for RowDecoder<'_> {
        fn drop(&mut self) {
            // SAFETY: h came from igpt_jpeg_new and is freed exactly once, here.
            unsafe { igpt_jpeg_free(self.h.as_ptr()) }
        }
    }
}

/// Streams a JPEG that the whole-image path would decode at full size into `sink`, a band of rows
/// at a time; None (the caller then decodes whole) on anything else: draft scaling, another
/// decoder, a file the whole path refuses, or any libjpeg error or warning.
pub(in crate::decode) fn jpeg_rows(
    data: &[u8],
    options: &DecodeOptions,
    sink: &mut dyn RgbRows,
) -> Option<()> {
    if options.jpeg_decoder != JpegDecoder::LibjpegTurbo {
        return None;
    }
    let setup = turbo_setup(data, options).ok()?;
    if setup.scale != 1 {
        return None;
    }
    let (width, height) = (setup.size.0 as usize, setup.size.1 as usize);
    let channels = setup.channels;
    drop(setup);
    let mut dec = jpeg_scanlines::RowDecoder::start(data, MAX_JPEG_SCANS)?;
    if (dec.width, dec.height, dec.components) != (width, height, channels) {
        return None;
    }
    let stride = width.checked_mul(channels)?;
    // 16 rows a band (at most MAX_ROWS): a few hundred KiB for the widest photos.
    let band = 16.min(jpeg_scanlines::MAX_ROWS);
    let mut buf = zeroed_bytes(stride.checked_mul(band)?)?;
    let mut rgb = if channels == 3 {
        Vec::new()
    } else {
        zeroed_bytes(width.checked_mul(3 * band)?)?
    };
    if !sink.start(width, height) {
        return None;
    }
    let mut done = 0;
    while done < height {
        let n = dec.read(&mut buf, stride)?;
        if n == 0 || dec.warned() {
            return None;
        }
        done += n;
        let rows = &buf[..n * stride];
        let out: &[u8] = match channels {
            3 => rows,
            1 => {
                for (o, &g) in rgb.chunks_exact_mut(3).zip(rows) {
                    o.fill(g);
                }
                &rgb[..n * width * 3]
            }
            _ => {
                for (o, p) in rgb.chunks_exact_mut(3).zip(rows.chunks_exact(4)) {
                    // As `jpeg_cmyk_to_rgb`: Pillow reads JPEG CMYK inverted (`CMYK;I`).
                    o.copy_from_slice(&pillow_cmyk_to_rgb(
                        255 - p[0],
                        255 - p[1],
                        255 - p[2],
                        255 - p[3],
                    ));
                }
                &rgb[..n * width * 3]
            }
        };
        if !sink.rows(out) {
            return None;
        }
    }
    (dec.finish() && !dec.warned()).then_some(())
}
