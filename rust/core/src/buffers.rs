//! Fallible zeroed byte buffers, shared by the decoders, the PNG scanline reader and the resizer:
//! an image's size comes from its file, so running out of memory must be an error, not an abort.

/// `len` zero bytes, or None when the memory is not available. The allocator's zeroed allocation
/// (calloc) is used: fresh pages come zeroed from the kernel, with no pass over them.
pub fn zeroed_bytes(len: usize) -> Option<Vec<u8>> {
    if len == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(len).ok()?;
    // SAFETY: `layout` has a non-zero size, as `alloc_zeroed` requires.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` was allocated by the global allocator with the layout of `[u8; len]` (size len,
    // align 1), which is what `Vec<u8>` with capacity len uses; all len bytes are initialized
    // (zero), so length len is valid, and the Vec takes sole ownership of the allocation.
    Some(unsafe { Vec::from_raw_parts(ptr, len, len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_or_none() {
        assert_eq!(zeroed_bytes(0), Some(Vec::new()));
        let v = zeroed_bytes(100_000).expect("100 kB");
        assert_eq!(v.len(), 100_000);
        assert!(v.iter().all(|&b| b == 0));
        assert_eq!(zeroed_bytes(usize::MAX), None);
    }
}
