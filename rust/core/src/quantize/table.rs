//! The lookup table storage: 2^24 ids in a brick layout, huge-page aligned.

use rayon::prelude::*;

use super::TABLE_LEN;

/// Position of color `(r, g, b)` in the table's brick layout: 4x4x4 bricks of 64 ids (128 bytes,
/// two cache lines) in (r, g, b) order, bricks in (r, g, b) order. Neighbouring colors, which
/// neighbouring pixels of natural images have, share cache lines far more often than in the linear
/// `(r << 16) | (g << 8) | b` layout, where a red step is 128 KiB away.
#[inline(always)]
pub fn brick_index(r: usize, g: usize, b: usize) -> usize {
    let brick = ((r >> 2) << 12) | ((g >> 2) << 6) | (b >> 2);
    (brick << 6) | ((r & 3) << 4) | ((g & 3) << 2) | (b & 3)
}

pub(super) const TABLE_ALIGN: usize = 2 << 20;

/// `2^24` ids in brick layout, in one 2 MiB-aligned allocation that Linux is asked to back with
/// transparent huge pages (16 TLB entries instead of 8192 for random color lookups).
pub struct LookupTable {
    pub(super) ptr: std::ptr::NonNull<u16>,
}

// SAFETY: LookupTable uniquely owns its allocation (like Box<[u16]>); u16 is Send + Sync, and shared
// access only reads.
unsafe impl Send for LookupTable {}
// SAFETY: see above; `&LookupTable` only gives `&[u16]`.
unsafe impl Sync for LookupTable {}

#[cfg(target_os = "linux")]
extern "C" {
    fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: std::ffi::c_int)
        -> std::ffi::c_int;
}

/// Asks Linux to back a fresh output buffer with transparent huge pages: the 2 MiB-aligned part of
/// `out`, which the quantizer's worker threads then fault in as 2 MiB pages while they write it
/// (one fault and one kernel zeroing per 512 small pages; for 20 M int64 ids that is the difference
/// between about 15 and 100 ms of CPU time on the development machine). NumPy advises its own large
/// allocations the same way unless `NUMPY_MADVISE_HUGEPAGE=0`; this makes it independent of that
/// setting. No-op for buffers under 2 MiB and off Linux; contents are unchanged.
pub fn advise_huge_pages<O>(out: &mut [O]) {
    #[cfg(target_os = "linux")]
    {
        let start = out.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(out);
        let (a, b) = (
            start.next_multiple_of(TABLE_ALIGN),
            end / TABLE_ALIGN * TABLE_ALIGN,
        );
        if b > a {
            // SAFETY: [a, b) is page aligned (2 MiB multiples) and lies inside `out`, which we
            // borrow exclusively; MADV_HUGEPAGE (14) only changes how the kernel backs these
            // anonymous pages, never their contents, and fails harmlessly (ignored) where THP is
            // off or the memory is not anonymous.
            unsafe {
                madvise(a as *mut std::ffi::c_void, b - a, 14);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = out;
}

impl LookupTable {
    pub(super) fn layout() -> std::alloc::Layout {
        match std::alloc::Layout::from_size_align(TABLE_LEN * 2, TABLE_ALIGN) {
            Ok(l) => l,
            Err(_) => unreachable!("32 MiB with a 2 MiB power-of-two alignment is a valid layout"),
        }
    }

    pub(super) fn new_zeroed() -> Self {
        let layout = Self::layout();
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { std::alloc::alloc(layout) } as *mut u16;
        let Some(ptr) = std::ptr::NonNull::new(raw) else {
            std::alloc::handle_alloc_error(layout)
        };
        #[cfg(target_os = "linux")]
        // SAFETY: [raw, raw + 32 MiB) is our allocation, 2 MiB aligned (so page aligned);
        // MADV_HUGEPAGE (14) only changes how the kernel backs it and fails harmlessly if THP is off.
        unsafe {
            madvise(raw as *mut std::ffi::c_void, TABLE_LEN * 2, 14);
        }
        // SAFETY: the allocation holds TABLE_LEN u16 (2 * TABLE_LEN bytes, u16-aligned); writing
        // zeros initializes every element before any read.
        unsafe { std::ptr::write_bytes(raw, 0, TABLE_LEN) };
        LookupTable { ptr }
    }

    /// The ids in brick layout.
    pub fn as_array(&self) -> &[u16; TABLE_LEN] {
        // SAFETY: ptr points to TABLE_LEN initialized u16 owned by self, alive while &self is.
        unsafe { &*(self.ptr.as_ptr() as *const [u16; TABLE_LEN]) }
    }

    pub(super) fn as_mut_slice(&mut self) -> &mut [u16] {
        // SAFETY: as in `as_array`, and &mut self guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), TABLE_LEN) }
    }

    /// The id of color `(r, g, b)`.
    pub fn get(&self, r: u8, g: u8, b: u8) -> u16 {
        self.as_array()[brick_index(r as usize, g as usize, b as usize)]
    }

    /// The ids in linear order: entry `(r << 16) | (g << 8) | b` is the id of `(r, g, b)`.
    pub fn to_linear(&self) -> Vec<u16> {
        let t = self.as_array();
        let mut out = vec![0u16; TABLE_LEN];
        out.par_chunks_mut(1 << 16)
            .enumerate()
            .for_each(|(r, plane)| {
                for (gb, o) in plane.iter_mut().enumerate() {
                    *o = t[brick_index(r, gb >> 8, gb & 255)];
                }
            });
        out
    }
}

impl Drop for LookupTable {
    fn drop(&mut self) {
        // SAFETY: ptr was allocated in `new_zeroed` with exactly this layout and is freed once.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr() as *mut u8, Self::layout()) }
    }
}
