//! A minimal safe wrapper of the TurboJPEG 3 functions the decoder needs.

use std::ffi::{c_int, CStr};
use turbojpeg_sys as tj;

/// An owned TurboJPEG decompressor handle (never null).
pub struct Decompressor(tj::tjhandle);

/// The outcome of a TurboJPEG call that failed or warned.
pub struct TjError {
    /// `true` for a warning (the output is complete), `false` for a fatal error.
    pub warning: bool,
    pub message: String,
}

pub struct Header {
    pub width: i32,
    pub height: i32,
    pub colorspace: i32,
    pub precision: i32,
    pub lossless: bool,
}

impl Decompressor {
    pub fn new() -> Option<Decompressor> {
        // SAFETY: tj3Init has no preconditions; it returns NULL on failure, checked here.
        let h = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as c_int) };
        if h.is_null() {
            None
        } else {
            Some(Decompressor(h))
        }
    }

    fn error(&self) -> TjError {
        // SAFETY: self.0 is a live handle; tj3GetErrorStr returns a pointer to a NUL-terminated
        // string owned by the handle (or a static one), valid until the next call on the handle;
        // we copy it out at once. tj3GetErrorCode only reads the handle.
        let (message, code) = unsafe {
            let s = tj::tj3GetErrorStr(self.0);
            let message = if s.is_null() {
                String::from("unknown error")
            } else {
                CStr::from_ptr(s).to_string_lossy().into_owned()
            };
            (message, tj::tj3GetErrorCode(self.0))
        };
        TjError {
            warning: code == tj::TJERR_TJERR_WARNING as c_int,
            message,
        }
    }

    fn get(&self, param: tj::TJPARAM) -> i32 {
        // SAFETY: self.0 is a live handle; tj3Get only reads it (unknown params return -1).
        unsafe { tj::tj3Get(self.0, param as c_int) }
    }

    pub fn set(&mut self, param: tj::TJPARAM, value: i32) -> Result<(), TjError> {
        // SAFETY: self.0 is a live handle; tj3Set validates param and value.
        let rc = unsafe { tj::tj3Set(self.0, param as c_int, value) };
        if rc == 0 {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// Reads the headers (no pixel memory is allocated).
    pub fn header(&mut self, data: &[u8]) -> Result<Header, TjError> {
        // SAFETY: self.0 is a live handle; data.as_ptr() is valid for data.len() bytes, which
        // TurboJPEG only reads, and only during this call.
        let rc = unsafe { tj::tj3DecompressHeader(self.0, data.as_ptr(), data.len() as _) };
        if rc != 0 {
            let e = self.error();
            if !e.warning {
                return Err(e);
            }
        }
        Ok(Header {
            width: self.get(tj::TJPARAM_TJPARAM_JPEGWIDTH),
            height: self.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT),
            colorspace: self.get(tj::TJPARAM_TJPARAM_COLORSPACE),
            precision: self.get(tj::TJPARAM_TJPARAM_PRECISION),
            lossless: self.get(tj::TJPARAM_TJPARAM_LOSSLESS) == 1,
        })
    }

    /// Sets DCT scaling 1/denom for the next decompression.
    pub fn set_scale(&mut self, denom: i32) -> Result<(), TjError> {
        let sf = tj::tjscalingfactor { num: 1, denom };
        // SAFETY: self.0 is a live handle; the factor is passed by value and validated.
        let rc = unsafe { tj::tj3SetScalingFactor(self.0, sf) };
        if rc == 0 {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// Decompresses `data` into `out`, `height` rows of `width * channels` bytes (the scaled size
    /// set with [`Decompressor::set_scale`]). `Ok(Some(warning))` when libjpeg warned.
    pub fn decompress(
        &mut self,
        data: &[u8],
        out: &mut [u8],
        width: usize,
        height: usize,
        pixel_format: tj::TJPF,
        channels: usize,
    ) -> Result<Option<String>, TjError> {
        let pitch = width
            .checked_mul(channels)
            .filter(|p| *p <= i32::MAX as usize);
        let Some(pitch) = pitch else {
            return Err(TjError {
                warning: false,
                message: String::from("row too wide"),
            });
        };
        if out.len() < pitch.saturating_mul(height) {
            return Err(TjError {
                warning: false,
                message: String::from("output buffer too small"),
            });
        }
        // SAFETY: self.0 is a live handle; data is valid for reads of data.len() bytes; out is
        // valid for writes of pitch * height bytes (checked just above), and TurboJPEG writes
        // exactly `height` rows of `pitch` bytes, where width/height are the scaled header size
        // the caller computed with TJSCALED for the factor set on this handle.
        let rc = unsafe {
            tj::tj3Decompress8(
                self.0,
                data.as_ptr(),
                data.len() as _,
                out.as_mut_ptr(),
                pitch as c_int,
                pixel_format,
            )
        };
        if rc == 0 {
            return Ok(None);
        }
        let e = self.error();
        if e.warning {
            Ok(Some(e.message))
        } else {
            Err(e)
        }
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: self.0 came from tj3Init, is non-null and is destroyed exactly once here.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

pub use tj::{
    TJCS_TJCS_CMYK as CS_CMYK, TJCS_TJCS_GRAY as CS_GRAY, TJCS_TJCS_YCCK as CS_YCCK,
    TJPARAM_TJPARAM_SCANLIMIT as SCANLIMIT, TJPF_TJPF_CMYK as PF_CMYK, TJPF_TJPF_GRAY as PF_GRAY,
    TJPF_TJPF_RGB as PF_RGB,
};
