//! Pillow-exact image resampling for 8-bit images (L, RGB, RGBA).
//!
//! Gives the same bytes as `PIL.Image.resize((w, h), resample, reducing_gap=None)` on a whole image,
//! which is how transformers resizes. The algorithm follows the public description of Pillow's
//! `libImaging/Resample.c` (convolution filters) and `Geometry.c` (NEAREST), written anew here:
//!
//! * per axis, `scale = in / out` and `filterscale = max(scale, 1)`; the kernel support is widened by
//!   `filterscale`; output pixel `x` is centred at `(x + 0.5) * scale`; the window of input pixels is
//!   `[trunc(center - support + 0.5), trunc(center + support + 0.5))` clipped to the image; the weights
//!   `f((i - center + 0.5) / filterscale)` (computed as a product with `1 / filterscale`) are summed in
//!   double precision and divided by their sum;
//! * the weights become 22-bit fixed-point integers (rounded half away from zero); each output sample
//!   is `clip8(((1 << 21) + Σ pixel · k) >> 22)` in 32-bit integers, which is exact, so the summation
//!   order is free and the loops vectorize;
//! * two separable passes through an 8-bit intermediate; which pass runs first matters for the result
//!   and depends on the Pillow version (see [`PillowCompat`]);
//! * NEAREST is an affine "scale" transform: source column `trunc(x0 + 0.5·a + n·a)` with `a = in / out`
//!   accumulated by repeated addition, exactly as Pillow does;
//! * RGBA is resized premultiplied (`RGBA → RGBa → resize → RGBA`) except with NEAREST.
//!
//! Speed: the vertical pass sums whole rows (contiguous lanes); the horizontal pass transposes blocks
//! of 16 or 32 rows into per-column strips (16x16 byte transposes with SSE2 for L and RGB) so that it,
//! too, sums contiguous lanes, and prefetches the next block. Both passes have AVX2 builds chosen at
//! run time. Large images are split over rayon.
//!
//! Use [`resize`] for one image (plans are cached), or [`cached_plan`] / [`ResizePlan`] and
//! [`ResizePlan::run_into`] to write many images of one size into buffers you own.

use std::fmt;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

/// Fixed-point precision of the weights (Pillow's `PRECISION_BITS = 32 - 8 - 2`).
pub const PRECISION_BITS: u32 = 22;
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Work (multiply-adds) above which one image is split over the rayon thread pool.
const PARALLEL_WORK: usize = 1 << 22;

/// Pillow's resampling filters, with Pillow's numbers (`PIL.Image.Resampling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Filter {
    Nearest = 0,
    Lanczos = 1,
    Bilinear = 2,
    Bicubic = 3,
    Box = 4,
    Hamming = 5,
}

impl Filter {
    /// Every filter, in Pillow's numbering order.
    pub const ALL: [Filter; 6] = [
        Filter::Nearest,
        Filter::Lanczos,
        Filter::Bilinear,
        Filter::Bicubic,
        Filter::Box,
        Filter::Hamming,
    ];

    /// The filter with Pillow's number `code`.
    pub fn from_code(code: i64) -> Result<Self, ResizeError> {
        match code {
            0 => Ok(Filter::Nearest),
            1 => Ok(Filter::Lanczos),
            2 => Ok(Filter::Bilinear),
            3 => Ok(Filter::Bicubic),
            4 => Ok(Filter::Box),
            5 => Ok(Filter::Hamming),
            _ => Err(ResizeError::Filter(code)),
        }
    }

    /// Pillow's number of the filter.
    pub fn code(self) -> i64 {
        self as i64
    }

    /// Pillow's name of the filter.
    pub fn name(self) -> &'static str {
        match self {
            Filter::Nearest => "NEAREST",
            Filter::Lanczos => "LANCZOS",
            Filter::Bilinear => "BILINEAR",
            Filter::Bicubic => "BICUBIC",
            Filter::Box => "BOX",
            Filter::Hamming => "HAMMING",
        }
    }

    /// Half-width of the kernel at scale 1 (0 for NEAREST, which is not a convolution).
    pub fn support(self) -> f64 {
        match self {
            Filter::Nearest => 0.0,
            Filter::Box => 0.5,
            Filter::Bilinear | Filter::Hamming => 1.0,
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    /// The kernel value at `x`, with Pillow's formulas and operation order.
    pub fn eval(self, x: f64) -> f64 {
        match self {
            Filter::Nearest => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Filter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Filter::Bilinear => {
                let x = x.abs();
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Filter::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let x = x * std::f64::consts::PI;
                    // Pillow writes the constants as C floats (0.54f, 0.46f), promoted to double.
                    x.sin() / x * (0.54f32 as f64 + 0.46f32 as f64 * x.cos())
                }
            }
            Filter::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// Which Pillow release's pass order to reproduce.
///
/// The two 1-D passes round to 8 bits in between, so their order changes some output bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PillowCompat {
    /// Pillow up to 12.1: always the horizontal pass first.
    V12Legacy,
    /// Pillow 12.2 and 12.3: horizontal first, except that `Image.resize` resizes images more than 100
    /// times taller than wide vertically first when the height shrinks (a Python-level path).
    V12,
    /// Pillow 13: vertical first when the height shrinks by more than twice as many pixels as the width
    /// (`in_h - out_h > 0 && in_h - out_h > 2 * (in_w - out_w)`), else horizontal first.
    V13,
}

impl PillowCompat {
    /// The behaviour of Pillow `major.minor` (`minor` matters for 12 only). Versions before 12
    /// behave like 12.0; versions after 13 are assumed to keep 13's rule.
    pub fn from_version(major: i64, minor: i64) -> Result<Self, ResizeError> {
        match major {
            m if m < 1 => Err(ResizeError::Compat { major, minor }),
            _ if minor < 0 => Err(ResizeError::Compat { major, minor }),
            m if m < 12 => Ok(PillowCompat::V12Legacy),
            12 if minor < 2 => Ok(PillowCompat::V12Legacy),
            12 => Ok(PillowCompat::V12),
            _ => Ok(PillowCompat::V13),
        }
    }

    /// The behaviour of the newest release of Pillow `major` (12 means 12.2-12.3, 13 means 13.x), the
    /// form the Python API's integer `pillow_compat` takes.
    pub fn from_major(major: i64) -> Result<Self, ResizeError> {
        match major {
            12 => Ok(PillowCompat::V12),
            13 => Ok(PillowCompat::V13),
            _ => Err(ResizeError::Compat { major, minor: 0 }),
        }
    }

    /// Whether a resize from `in_w x in_h` to `out_w x out_h` that needs both passes runs the vertical
    /// pass first.
    pub fn vertical_first(self, in_w: usize, in_h: usize, out_w: usize, out_h: usize) -> bool {
        let (iw, ih, ow, oh) = (in_w as i128, in_h as i128, out_w as i128, out_h as i128);
        match self {
            PillowCompat::V12Legacy => false,
            PillowCompat::V12 => ih > iw * 100 && oh < ih,
            PillowCompat::V13 => ih - oh > 0 && ih - oh > 2 * (iw - ow),
        }
    }
}

/// Why a resize cannot run. Messages name the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResizeError {
    #[error("{what} must be at least 1, got {value}")]
    ZeroSize { what: &'static str, value: usize },
    #[error("{what} = {value} is too large (at most {max})")]
    TooLarge {
        what: &'static str,
        value: usize,
        max: usize,
    },
    #[error("channels must be 1 (L), 3 (RGB) or 4 (RGBA), got {0}")]
    Channels(usize),
    #[error("buffer of {got} bytes does not match width {width} x height {height} x channels {channels} = {expected}")]
    BufferLength {
        got: usize,
        expected: usize,
        width: usize,
        height: usize,
        channels: usize,
    },
    #[error("output buffer of {got} bytes does not match {expected} (width {width} x height {height} x channels {channels})")]
    OutputLength {
        got: usize,
        expected: usize,
        width: usize,
        height: usize,
        channels: usize,
    },
    #[error(
        "unknown resampling filter {0}: use 0 (NEAREST), 1 (LANCZOS), 2 (BILINEAR), 3 (BICUBIC), 4 (BOX) or 5 (HAMMING)"
    )]
    Filter(i64),
    #[error("cannot allocate {bytes} bytes for the resized image")]
    OutOfMemory { bytes: usize },
    #[error("pillow_compat version {major}.{minor} is not a Pillow version")]
    Compat { major: i64, minor: i64 },
}

/// Largest width or height accepted (Pillow stores sizes in a C `int`).
pub const MAX_SIDE: usize = i32::MAX as usize;

/// A borrowed 8-bit image: `height` rows of `width * channels` bytes, packed.
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub channels: usize,
}

impl<'a> ImageView<'a> {
    /// Checks the sizes and the buffer length.
    pub fn new(
        data: &'a [u8],
        width: usize,
        height: usize,
        channels: usize,
    ) -> Result<Self, ResizeError> {
        check_side("width", width)?;
        check_side("height", height)?;
        check_channels(channels)?;
        let expected = byte_len(width, height, channels)?;
        if data.len() != expected {
            return Err(ResizeError::BufferLength {
                got: data.len(),
                expected,
                width,
                height,
                channels,
            });
        }
        Ok(ImageView {
            data,
            width,
            height,
            channels,
        })
    }
}

fn check_side(what: &'static str, value: usize) -> Result<(), ResizeError> {
    if value == 0 {
        return Err(ResizeError::ZeroSize { what, value });
    }
    if value > MAX_SIDE {
        return Err(ResizeError::TooLarge {
            what,
            value,
            max: MAX_SIDE,
        });
    }
    Ok(())
}

fn check_channels(channels: usize) -> Result<(), ResizeError> {
    match channels {
        1 | 3 | 4 => Ok(()),
        c => Err(ResizeError::Channels(c)),
    }
}

fn byte_len(width: usize, height: usize, channels: usize) -> Result<usize, ResizeError> {
    width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(channels))
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or(ResizeError::TooLarge {
            what: "width x height x channels",
            value: usize::MAX,
            max: isize::MAX as usize,
        })
}

/// Largest weight table (entries of 4 bytes) kept per axis; a larger one (extreme downscales of very
/// long axes, or outputs of hundreds of millions of pixels) is not stored: each window's weights are
/// computed when used, into a scratch buffer of at most one window.
const TABLE_ENTRIES: usize = 1 << 22;

/// The resampling weights of one axis, as Pillow computes them.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisCoeffs {
    /// Per output pixel: first input pixel and number of input pixels.
    pub bounds: Vec<(usize, usize)>,
    /// Pillow's `ksize` (the window bound its table uses).
    pub ksize: usize,
    /// Row length of `fixed`: `min(ksize, in_size)` (no window is longer than the axis).
    pub stride: usize,
    /// The weights in 22-bit fixed point, `stride` per output pixel (unused slots are 0); empty when
    /// the table would exceed [`TABLE_ENTRIES`] (see [`AxisCoeffs::window`]).
    pub fixed: Vec<i32>,
    /// The longest window (the scratch a lazily computed window needs).
    pub max_count: usize,
    geom: WindowGeom,
}

/// What computing one window's weights needs (Pillow's `precompute_coeffs` state).
#[derive(Debug, Clone, Copy, PartialEq)]
struct WindowGeom {
    in_size: usize,
    in0: f64,
    scale: f64,
    support: f64,
    ss: f64,
    filter: Filter,
}

impl WindowGeom {
    /// Output pixel `xx`'s centre, first input pixel and input pixel count.
    fn window(&self, xx: usize) -> (f64, usize, usize, usize) {
        let center = self.in0 + (xx as f64 + 0.5) * self.scale;
        // `as i64` truncates toward zero like C's (int) cast (and saturates instead of overflowing).
        let xmin = ((center - self.support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + self.support + 0.5) as i64)
            .min(self.in_size as i64)
            .max(0) as usize;
        (center, xmin, xmax.saturating_sub(xmin), xmax)
    }

    /// The fixed-point weights of output pixel `xx` into `k` (its window's length): the double
    /// weights are summed in order, then each is divided by the sum and rounded, as Pillow does. The
    /// weights are evaluated twice instead of stored, so no double table is needed.
    fn weights(&self, xx: usize, k: &mut [i32]) {
        let (center, xmin, _, _) = self.window(xx);
        let w = |x: usize| {
            self.filter
                .eval(((x + xmin) as f64 - center + 0.5) * self.ss)
        };
        let mut ww = 0.0f64;
        for x in 0..k.len() {
            ww += w(x);
        }
        for (x, slot) in k.iter_mut().enumerate() {
            let v = w(x);
            *slot = to_fixed(if ww != 0.0 { v / ww } else { v });
        }
    }
}

impl AxisCoeffs {
    /// Weights for resampling `in_size` pixels (the whole axis) to `out_size` pixels with `filter`
    /// (a convolution filter; NEAREST gives its box kernel, which Pillow never uses for resize).
    pub fn new(in_size: usize, out_size: usize, filter: Filter) -> Result<Self, ResizeError> {
        check_side("input size", in_size)?;
        check_side("output size", out_size)?;
        Self::with_box(in_size, 0.0, in_size as f32, out_size, filter)
    }

    /// Pillow's `precompute_coeffs` with a box `[in0, in1)` given as C floats.
    fn with_box(
        in_size: usize,
        in0: f32,
        in1: f32,
        out_size: usize,
        filter: Filter,
    ) -> Result<Self, ResizeError> {
        Self::with_box_limit(in_size, in0, in1, out_size, filter, TABLE_ENTRIES)
    }

    /// [`AxisCoeffs::with_box`] storing the table only up to `table_entries` entries.
    fn with_box_limit(
        in_size: usize,
        in0: f32,
        in1: f32,
        out_size: usize,
        filter: Filter,
        table_entries: usize,
    ) -> Result<Self, ResizeError> {
        let scale = f64::from(in1 - in0) / out_size as f64;
        let filterscale = if scale < 1.0 { 1.0 } else { scale };
        let support = filter.support() * filterscale;
        // Pillow: (int)ceil(support) * 2 + 1
        let ksize = (support.ceil() as usize)
            .saturating_mul(2)
            .saturating_add(1);
        let stride = ksize.min(in_size).max(1);
        let geom = WindowGeom {
            in_size,
            in0: f64::from(in0),
            scale,
            support,
            ss: 1.0 / filterscale,
            filter,
        };
        let mut bounds = try_vec((0usize, 0usize), out_size)?;
        let mut max_count = 0;
        for (xx, b) in bounds.iter_mut().enumerate() {
            let (_, xmin, count, _) = geom.window(xx);
            let count = count.min(ksize);
            *b = (xmin, count);
            max_count = max_count.max(count);
        }
        let mut fixed = Vec::new();
        if out_size.saturating_mul(stride) <= table_entries {
            fixed = try_vec(0i32, out_size * stride)?;
            for (xx, k) in fixed.chunks_exact_mut(stride).enumerate() {
                geom.weights(xx, &mut k[..bounds[xx].1]);
            }
        }
        Ok(AxisCoeffs {
            bounds,
            ksize,
            stride,
            fixed,
            max_count,
            geom,
        })
    }

    /// Whether the weights are computed per window instead of stored.
    fn lazy(&self) -> bool {
        self.fixed.is_empty()
    }

    /// A scratch buffer for [`AxisCoeffs::window`]: empty when the table is stored, else one window.
    fn scratch(&self) -> Result<Vec<i32>, ResizeError> {
        if self.lazy() {
            try_vec(0i32, self.max_count)
        } else {
            Ok(Vec::new())
        }
    }

    /// Output pixel `xx`'s window: its first input pixel and its fixed-point weights, from the table
    /// or computed into `scratch` (from [`AxisCoeffs::scratch`]).
    #[inline]
    fn window<'a>(&'a self, xx: usize, scratch: &'a mut [i32]) -> (usize, &'a [i32]) {
        let (start, count) = self.bounds[xx];
        if self.lazy() {
            let k = &mut scratch[..count];
            self.geom.weights(xx, k);
            (start, k)
        } else {
            (
                start,
                &self.fixed[xx * self.stride..xx * self.stride + count],
            )
        }
    }

    /// The input range `[first, last)` any output pixel reads.
    fn span(&self) -> (usize, usize) {
        let first = self.bounds.iter().map(|b| b.0).min().unwrap_or(0);
        let last = self.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(0);
        (first, last.max(first))
    }

    /// The same weights with every window moved `by` pixels left (for an input cropped to the span).
    fn shifted(&self, by: usize) -> Result<AxisCoeffs, ResizeError> {
        let mut bounds = try_vec((0usize, 0usize), self.bounds.len())?;
        for (b, &(s, n)) in bounds.iter_mut().zip(&self.bounds) {
            *b = (s - by, n);
        }
        let mut fixed = try_vec(0i32, self.fixed.len())?;
        fixed.copy_from_slice(&self.fixed);
        Ok(AxisCoeffs {
            bounds,
            fixed,
            ..*self
        })
    }

    fn taps_total(&self) -> usize {
        self.bounds.iter().map(|b| b.1).sum()
    }
}

/// A weight in 22-bit fixed point, rounded half away from zero and truncated like C's `(int)` cast.
pub fn to_fixed(w: f64) -> i32 {
    let scaled = w * f64::from(1u32 << PRECISION_BITS);
    if w < 0.0 {
        (-0.5 + scaled) as i32
    } else {
        (0.5 + scaled) as i32
    }
}

#[inline(always)]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow's NEAREST column (or row) table: input index per output index, `None` where the
/// accumulated coordinate falls outside the image (Pillow leaves those pixels 0).
pub fn nearest_indices(in_size: usize, out_size: usize) -> Result<Vec<Option<usize>>, ResizeError> {
    // a = (double)(box1 - box0) / out, with the box in C floats; o = box0 + a * 0.5; o += a per pixel.
    let a = f64::from(in_size as f32) / out_size as f64;
    let mut o = a * 0.5;
    let mut table = try_vec(None, out_size)?;
    for slot in table.iter_mut() {
        // COORD(v): v < 0 -> -1, else (int)v
        let idx = if o < 0.0 { None } else { Some(o as usize) };
        *slot = idx.filter(|&i| i < in_size);
        o += a;
    }
    Ok(table)
}

/// `n` copies of `value`, or [`ResizeError::OutOfMemory`] when they cannot be allocated.
fn try_vec<T: Clone>(value: T, n: usize) -> Result<Vec<T>, ResizeError> {
    let bytes = n.saturating_mul(std::mem::size_of::<T>());
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| ResizeError::OutOfMemory { bytes })?;
    v.resize(n, value);
    Ok(v)
}

/// Everything that depends only on the sizes, the filter and the Pillow version: build once, run on
/// many images (of any channel count).
#[derive(Debug, Clone)]
pub struct ResizePlan {
    in_w: usize,
    in_h: usize,
    out_w: usize,
    out_h: usize,
    filter: Filter,
    kind: PlanKind,
}

#[derive(Debug, Clone)]
enum PlanKind {
    Copy,
    Nearest {
        cols: Vec<Option<usize>>,
        rows: Vec<Option<usize>>,
    },
    Convolve {
        horiz: Option<AxisCoeffs>,
        vert: Option<AxisCoeffs>,
        vertical_first: bool,
    },
}

impl ResizePlan {
    /// Plans a resize from `in_w x in_h` to `out_w x out_h`.
    pub fn new(
        in_w: usize,
        in_h: usize,
        out_w: usize,
        out_h: usize,
        filter: Filter,
        compat: PillowCompat,
    ) -> Result<Self, ResizeError> {
        check_side("width", in_w)?;
        check_side("height", in_h)?;
        check_side("output width", out_w)?;
        check_side("output height", out_h)?;
        let kind = if in_w == out_w && in_h == out_h {
            PlanKind::Copy
        } else if filter == Filter::Nearest {
            PlanKind::Nearest {
                cols: nearest_indices(in_w, out_w)?,
                rows: nearest_indices(in_h, out_h)?,
            }
        } else {
            let horiz = (in_w != out_w)
                .then(|| AxisCoeffs::with_box(in_w, 0.0, in_w as f32, out_w, filter))
                .transpose()?;
            let vert = match &horiz {
                Some(h) if (in_h, out_h) == (in_w, out_w) => Some(h.clone()),
                _ => (in_h != out_h)
                    .then(|| AxisCoeffs::with_box(in_h, 0.0, in_h as f32, out_h, filter))
                    .transpose()?,
            };
            let vertical_first = horiz.is_some()
                && vert.is_some()
                && compat.vertical_first(in_w, in_h, out_w, out_h);
            PlanKind::Convolve {
                horiz,
                vert,
                vertical_first,
            }
        };
        Ok(ResizePlan {
            in_w,
            in_h,
            out_w,
            out_h,
            filter,
            kind,
        })
    }

    /// The filter.
    pub fn filter(&self) -> Filter {
        self.filter
    }

    /// Output `(width, height)`.
    pub fn output_size(&self) -> (usize, usize) {
        (self.out_w, self.out_h)
    }

    /// Input `(width, height)` the plan accepts.
    pub fn input_size(&self) -> (usize, usize) {
        (self.in_w, self.in_h)
    }

    /// Whether the vertical pass runs first.
    pub fn vertical_first(&self) -> bool {
        matches!(
            self.kind,
            PlanKind::Convolve {
                vertical_first: true,
                ..
            }
        )
    }

    /// Rough count of multiply-adds per channel (to decide on threading).
    pub fn work(&self) -> usize {
        match &self.kind {
            PlanKind::Copy | PlanKind::Nearest { .. } => self.out_w * self.out_h,
            PlanKind::Convolve {
                horiz,
                vert,
                vertical_first,
            } => {
                let h = horiz.as_ref().map_or(0, |c| c.taps_total());
                let v = vert.as_ref().map_or(0, |c| c.taps_total());
                if *vertical_first {
                    v * self.in_w + h * self.out_h
                } else {
                    h * self.in_h + v * self.out_w
                }
            }
        }
    }

    /// Resizes `src` (which must have the plan's input size) into a new buffer.
    pub fn run(&self, src: &ImageView<'_>, parallel: bool) -> Result<Vec<u8>, ResizeError> {
        let mut out = zeroed(byte_len(self.out_w, self.out_h, src.channels)?)?;
        self.run_into(src, &mut out, parallel)?;
        Ok(out)
    }

    /// Resizes `src` into `dst` (`out_w * out_h * channels` bytes). With `parallel`, large images are
    /// split over the rayon thread pool.
    pub fn run_into(
        &self,
        src: &ImageView<'_>,
        dst: &mut [u8],
        parallel: bool,
    ) -> Result<(), ResizeError> {
        let c = src.channels;
        check_channels(c)?;
        if (src.width, src.height) != (self.in_w, self.in_h) {
            return Err(ResizeError::BufferLength {
                got: src.data.len(),
                expected: byte_len(self.in_w, self.in_h, c)?,
                width: self.in_w,
                height: self.in_h,
                channels: c,
            });
        }
        let expected_in = byte_len(self.in_w, self.in_h, c)?;
        if src.data.len() != expected_in {
            return Err(ResizeError::BufferLength {
                got: src.data.len(),
                expected: expected_in,
                width: self.in_w,
                height: self.in_h,
                channels: c,
            });
        }
        let expected = byte_len(self.out_w, self.out_h, c)?;
        if dst.len() != expected {
            return Err(ResizeError::OutputLength {
                got: dst.len(),
                expected,
                width: self.out_w,
                height: self.out_h,
                channels: c,
            });
        }
        let parallel =
            parallel && self.work() * c >= PARALLEL_WORK && rayon::current_num_threads() > 1;
        match &self.kind {
            PlanKind::Copy => dst.copy_from_slice(src.data),
            PlanKind::Nearest { cols, rows } => nearest(src, cols, rows, dst),
            PlanKind::Convolve {
                horiz,
                vert,
                vertical_first,
            } => {
                let premultiplied;
                let data = if c == 4 {
                    premultiplied = premultiply(src.data)?;
                    &premultiplied[..]
                } else {
                    src.data
                };
                let img = Img {
                    data,
                    width: self.in_w,
                    height: self.in_h,
                };
                match c {
                    1 => convolve::<1>(
                        img,
                        horiz.as_ref(),
                        vert.as_ref(),
                        *vertical_first,
                        dst,
                        parallel,
                    ),
                    3 => convolve::<3>(
                        img,
                        horiz.as_ref(),
                        vert.as_ref(),
                        *vertical_first,
                        dst,
                        parallel,
                    ),
                    _ => convolve::<4>(
                        img,
                        horiz.as_ref(),
                        vert.as_ref(),
                        *vertical_first,
                        dst,
                        parallel,
                    ),
                }?;
                if c == 4 {
                    unpremultiply(dst);
                }
            }
        }
        Ok(())
    }
}

/// Resizes one image to `out_w x out_h` like `PIL.Image.resize((out_w, out_h), filter)` with the pass
/// order of `compat`; large images use the rayon thread pool. Plans are cached (a few recent sizes), so
/// batches of same-sized images compute their weights once.
pub fn resize(
    src: &ImageView<'_>,
    out_w: usize,
    out_h: usize,
    filter: Filter,
    compat: PillowCompat,
) -> Result<Vec<u8>, ResizeError> {
    resize_one(src, out_w, out_h, filter, compat, true)
}

fn resize_one(
    src: &ImageView<'_>,
    out_w: usize,
    out_h: usize,
    filter: Filter,
    compat: PillowCompat,
    parallel: bool,
) -> Result<Vec<u8>, ResizeError> {
    check_side("output width", out_w)?;
    check_side("output height", out_h)?;
    // The output is allocated first: an impossible size fails here, before any weights are computed.
    let mut out = zeroed(byte_len(out_w, out_h, src.channels)?)?;
    cached_plan(src.width, src.height, out_w, out_h, filter, compat)?
        .run_into(src, &mut out, parallel)?;
    Ok(out)
}

/// Resizes many images (of any sizes and channel counts) to one size, in parallel over the images
/// (rayon). On failure, returns the index of the first image that failed with its error.
pub fn resize_many(
    images: &[ImageView<'_>],
    out_w: usize,
    out_h: usize,
    filter: Filter,
    compat: PillowCompat,
) -> Result<Vec<Vec<u8>>, (usize, ResizeError)> {
    let one_each = images.len() <= 1;
    images
        .par_iter()
        .enumerate()
        .map(|(i, img)| resize_one(img, out_w, out_h, filter, compat, one_each).map_err(|e| (i, e)))
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}

type PlanKey = (usize, usize, usize, usize, Filter, PillowCompat);

/// Recently used plans, most recent last.
static PLAN_CACHE: Mutex<Vec<(PlanKey, Arc<ResizePlan>)>> = Mutex::new(Vec::new());
const PLAN_CACHE_SIZE: usize = 16;

/// A shared plan for these sizes, from the cache or built (and cached).
pub fn cached_plan(
    in_w: usize,
    in_h: usize,
    out_w: usize,
    out_h: usize,
    filter: Filter,
    compat: PillowCompat,
) -> Result<Arc<ResizePlan>, ResizeError> {
    let key = (in_w, in_h, out_w, out_h, filter, compat);
    if let Ok(cache) = PLAN_CACHE.lock() {
        if let Some((_, plan)) = cache.iter().rev().find(|(k, _)| *k == key) {
            return Ok(Arc::clone(plan));
        }
    }
    let plan = Arc::new(ResizePlan::new(in_w, in_h, out_w, out_h, filter, compat)?);
    // A poisoned lock (a panic elsewhere while holding it) only disables caching.
    if let Ok(mut cache) = PLAN_CACHE.lock() {
        if cache.len() >= PLAN_CACHE_SIZE {
            cache.remove(0);
        }
        cache.push((key, Arc::clone(&plan)));
    }
    Ok(plan)
}

/// A resize fed with the input rows top to bottom, a few at a time, for decoders that produce rows:
/// the full-size image never has to exist at once. It gives the same bytes as [`ResizePlan::run`]
/// (the same passes; the horizontal one works row by row anyway). Only plans that run the horizontal
/// pass first (or alone) on 1- or 3-channel images qualify, see [`RowResizer::new`].
pub struct RowResizer {
    plan: Arc<ResizePlan>,
    channels: usize,
    /// Rows received so far.
    next_row: usize,
    /// The input rows the vertical pass reads (all rows when there is no vertical pass).
    rows_used: (usize, usize),
    /// The horizontal pass's output for those rows.
    mid: Vec<u8>,
}

impl RowResizer {
    /// A row-fed resize for `plan` on `channels`-channel rows, or None when the plan cannot run on
    /// rows as they come: vertical pass first, nearest neighbour, no horizontal pass, or 4
    /// channels (premultiplied) - callers then resize the whole image with [`ResizePlan::run`].
    pub fn new(plan: Arc<ResizePlan>, channels: usize) -> Result<Option<RowResizer>, ResizeError> {
        if channels != 1 && channels != 3 {
            return Ok(None);
        }
        let rows_used = match &plan.kind {
            PlanKind::Copy => (0, plan.in_h),
            PlanKind::Convolve {
                horiz: Some(_),
                vert,
                vertical_first: false,
            } => vert.as_ref().map_or((0, plan.in_h), AxisCoeffs::span),
            _ => return Ok(None),
        };
        let mid = zeroed(byte_len(plan.out_w, rows_used.1 - rows_used.0, channels)?)?;
        Ok(Some(RowResizer {
            plan,
            channels,
            next_row: 0,
            rows_used,
            mid,
        }))
    }

    /// The next rows of the input: whole rows of `width * channels` bytes.
    pub fn push(&mut self, rows: &[u8]) -> Result<(), ResizeError> {
        let plan = &*self.plan;
        let c = self.channels;
        let in_stride = plan.in_w * c;
        let n = rows.len() / in_stride;
        if n * in_stride != rows.len() || self.next_row + n > plan.in_h {
            return Err(ResizeError::BufferLength {
                got: (self.next_row * in_stride).saturating_add(rows.len()),
                expected: byte_len(plan.in_w, plan.in_h, c)?,
                width: plan.in_w,
                height: plan.in_h,
                channels: c,
            });
        }
        // The part of these rows the vertical pass will read.
        let (y0, y1) = self.rows_used;
        let (first, last) = (self.next_row.max(y0), (self.next_row + n).min(y1));
        self.next_row += n;
        if first >= last {
            return Ok(());
        }
        let src = &rows
            [(first - (self.next_row - n)) * in_stride..(last - (self.next_row - n)) * in_stride];
        let out_stride = plan.out_w * c;
        let dst = &mut self.mid[(first - y0) * out_stride..(last - y0) * out_stride];
        let img = Img {
            data: src,
            width: plan.in_w,
            height: last - first,
        };
        match &plan.kind {
            PlanKind::Convolve { horiz: Some(h), .. } => match c {
                1 => horizontal_pass::<1>(img, h, dst, false)?,
                _ => horizontal_pass::<3>(img, h, dst, false)?,
            },
            _ => dst.copy_from_slice(src),
        }
        Ok(())
    }

    /// The resized image, once every input row has been pushed.
    pub fn finish(self) -> Result<Vec<u8>, ResizeError> {
        let plan = &*self.plan;
        let c = self.channels;
        if self.next_row != plan.in_h {
            return Err(ResizeError::BufferLength {
                got: self.next_row * plan.in_w * c,
                expected: byte_len(plan.in_w, plan.in_h, c)?,
                width: plan.in_w,
                height: plan.in_h,
                channels: c,
            });
        }
        let vert = match &plan.kind {
            PlanKind::Convolve { vert: Some(v), .. } => v,
            _ => return Ok(self.mid),
        };
        let (y0, y1) = self.rows_used;
        let mut out = zeroed(byte_len(plan.out_w, plan.out_h, c)?)?;
        let mid = Img {
            data: &self.mid,
            width: plan.out_w,
            height: y1 - y0,
        };
        let v = vert.shifted(y0)?;
        match c {
            1 => vertical_pass::<1>(mid, &v, &mut out, false),
            _ => vertical_pass::<3>(mid, &v, &mut out, false),
        }?;
        Ok(out)
    }
}

/// A zeroed buffer, or [`ResizeError::OutOfMemory`] when it cannot be allocated.
fn zeroed(bytes: usize) -> Result<Vec<u8>, ResizeError> {
    crate::buffers::zeroed_bytes(bytes).ok_or(ResizeError::OutOfMemory { bytes })
}

/// Pillow's `RGBA -> RGBa`: `v * a / 255` rounded as `MULDIV255`.
fn premultiply(data: &[u8]) -> Result<Vec<u8>, ResizeError> {
    let mut out = zeroed(data.len())?;
    out.copy_from_slice(data);
    for px in out.chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        for v in &mut px[..3] {
            let t = u32::from(*v) * a + 128;
            *v = (((t >> 8) + t) >> 8) as u8;
        }
    }
    Ok(out)
}

/// Pillow's `RGBa -> RGBA`: `255 * v / a` (integer division, clipped), unchanged where `a` is 0 or 255.
fn unpremultiply(data: &mut [u8]) {
    for px in data.chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        if a != 0 && a != 255 {
            for v in &mut px[..3] {
                *v = ((255 * u32::from(*v)) / a).min(255) as u8;
            }
        }
    }
}

fn nearest(src: &ImageView<'_>, cols: &[Option<usize>], rows: &[Option<usize>], dst: &mut [u8]) {
    let c = src.channels;
    let in_stride = src.width * c;
    let out_stride = cols.len() * c;
    for (out_row, yi) in dst.chunks_exact_mut(out_stride).zip(rows) {
        match yi {
            Some(y) => {
                let in_row = &src.data[y * in_stride..(y + 1) * in_stride];
                for (out_px, xi) in out_row.chunks_exact_mut(c).zip(cols) {
                    match xi {
                        Some(x) => out_px.copy_from_slice(&in_row[x * c..(x + 1) * c]),
                        None => out_px.fill(0),
                    }
                }
            }
            None => out_row.fill(0),
        }
    }
}

/// A packed image with `C` channels (the channel count is a const parameter of the kernels).
#[derive(Clone, Copy)]
struct Img<'a> {
    data: &'a [u8],
    width: usize,
    height: usize,
}

fn convolve<const C: usize>(
    img: Img<'_>,
    horiz: Option<&AxisCoeffs>,
    vert: Option<&AxisCoeffs>,
    vertical_first: bool,
    dst: &mut [u8],
    parallel: bool,
) -> Result<(), ResizeError> {
    debug_assert_eq!(img.data.len(), img.width * img.height * C);
    match (horiz, vert) {
        (None, None) => dst.copy_from_slice(img.data),
        (Some(h), None) => horizontal_pass::<C>(img, h, dst, parallel)?,
        (None, Some(v)) => vertical_pass::<C>(img, v, dst, parallel)?,
        (Some(h), Some(v)) => {
            let out_w = h.bounds.len();
            let out_h = v.bounds.len();
            if vertical_first {
                // Only the columns the horizontal pass reads are needed.
                let (x0, x1) = h.span();
                let mid_w = x1 - x0;
                let mut mid = zeroed(byte_len(mid_w, out_h, C)?)?;
                vertical_pass_cols::<C>(img, x0, mid_w, v, &mut mid, parallel)?;
                let h = h.shifted(x0)?;
                let mid_img = Img {
                    data: &mid,
                    width: mid_w,
                    height: out_h,
                };
                horizontal_pass::<C>(mid_img, &h, dst, parallel)?;
            } else {
                // Only the rows the vertical pass reads are needed (as Pillow does).
                let (y0, y1) = v.span();
                let mut mid = zeroed(byte_len(out_w, y1 - y0, C)?)?;
                let rows = Img {
                    data: &img.data[y0 * img.width * C..y1 * img.width * C],
                    width: img.width,
                    height: y1 - y0,
                };
                horizontal_pass::<C>(rows, h, &mut mid, parallel)?;
                let v = v.shifted(y0)?;
                let mid_img = Img {
                    data: &mid,
                    width: out_w,
                    height: y1 - y0,
                };
                vertical_pass::<C>(mid_img, &v, dst, parallel)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Horizontal pass: blocks of rows are transposed into column-major strips (one strip of `L = rows * C`
// bytes per input column), so that each output pixel is a sum of whole strips times a scalar weight:
// no horizontal reductions, and the inner loop is `L` independent lanes.

/// Rows per block: 32 for L (32 lanes), 16 for RGB (48 lanes) and RGBA (64 lanes).
const fn strip_rows(c: usize) -> usize {
    if c == 1 {
        32
    } else {
        16
    }
}

fn horizontal_pass<const C: usize>(
    img: Img<'_>,
    coeffs: &AxisCoeffs,
    dst: &mut [u8],
    parallel: bool,
) -> Result<(), ResizeError> {
    match C {
        1 => horizontal_rows::<C, 32>(img, coeffs, dst, parallel),
        3 => horizontal_rows::<C, 48>(img, coeffs, dst, parallel),
        _ => horizontal_rows::<C, 64>(img, coeffs, dst, parallel),
    }
}

/// Hints the CPU to load `bytes` into the caches (a no-op off x86_64).
#[inline]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: a prefetch is only a hint: it never faults and changes no program state; the
        // pointer is inside `bytes` anyway. SSE is part of the x86_64 baseline.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(
                line.as_ptr().cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Geometry of one horizontal pass, shared by its blocks.
#[derive(Clone, Copy)]
struct HGeom<'a> {
    in_stride: usize,
    x1: usize,
    coeffs: &'a AxisCoeffs,
}

/// Input columns one block's strips hold at most (1 MiB for RGBA): wider spans are transposed a
/// tile at a time, so the strips never grow with the image (a 178-megapixel row would otherwise need
/// 8.5 GB of them). Images up to this wide are transposed whole, as before.
const TILE_COLS: usize = 16384;

fn horizontal_rows<const C: usize, const L: usize>(
    img: Img<'_>,
    coeffs: &AxisCoeffs,
    dst: &mut [u8],
    parallel: bool,
) -> Result<(), ResizeError> {
    let rows_per_block = strip_rows(C);
    debug_assert_eq!(rows_per_block * C, L);
    let out_stride = coeffs.bounds.len() * C;
    let in_stride = img.width * C;
    let (x0, x1) = coeffs.span();
    let geom = HGeom {
        in_stride,
        x1,
        coeffs,
    };
    let block_bytes = rows_per_block * out_stride;
    let run = |(strips, scratch): &mut (Vec<u8>, Vec<i32>), (b, out_block): (usize, &mut [u8])| {
        let y = b * rows_per_block;
        let n = out_block.len() / out_stride;
        let rows = &img.data[y * in_stride..(y + n) * in_stride];
        // The next block's rows start streaming in from memory while this block is computed.
        let next_end = ((y + n + rows_per_block) * in_stride).min(img.data.len());
        prefetch(img.data.get((y + n) * in_stride..next_end).unwrap_or(&[]));
        horizontal_block_dispatch::<C, L>(rows, n, geom, out_block, strips, scratch);
    };
    let strip_len = (x1 - x0).min(TILE_COLS) * L;
    prefetch(&img.data[..(rows_per_block * in_stride).min(img.data.len())]);
    // Weights computed per window need a scratch buffer of up to a whole axis: one, serially.
    if parallel && !coeffs.lazy() {
        dst.par_chunks_mut(block_bytes)
            .enumerate()
            .for_each_init(|| (vec![0u8; strip_len], Vec::new()), run);
    } else {
        let mut state = (vec![0u8; strip_len], coeffs.scratch()?);
        dst.chunks_mut(block_bytes)
            .enumerate()
            .for_each(|item| run(&mut state, item));
    }
    Ok(())
}

fn horizontal_block_dispatch<const C: usize, const L: usize>(
    rows: &[u8],
    n: usize,
    geom: HGeom<'_>,
    out: &mut [u8],
    strips: &mut [u8],
    scratch: &mut [i32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), which is all `horizontal_block_avx2`
            // requires; the function itself is safe Rust.
            unsafe { horizontal_block_avx2::<C, L>(rows, n, geom, out, strips, scratch) };
            return;
        }
    }
    horizontal_block::<C, L>(rows, n, geom, out, strips, scratch);
}

/// # Safety
/// The CPU must support AVX2 (the dispatcher checks it first). `unsafe fn`: a safe `#[target_feature]`
/// function needs Rust 1.86, and the workspace's rust-version is 1.85.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn horizontal_block_avx2<const C: usize, const L: usize>(
    rows: &[u8],
    n: usize,
    geom: HGeom<'_>,
    out: &mut [u8],
    strips: &mut [u8],
    scratch: &mut [i32],
) {
    horizontal_block::<C, L>(rows, n, geom, out, strips, scratch);
}

/// One block of `n <= L / C` rows. `strips` holds up to [`TILE_COLS`] columns of `L` bytes: channel
/// `ch` of column `x` of row `r` at `(x - t0) * L + lane` for the tile `[t0, t1)` currently transposed,
/// with lane `ch * 16 + r` for RGB and `r * C + ch` otherwise. A window reaching past the tile moves
/// the tile to start where the remaining taps start (windows start in increasing order) and goes on
/// summing: the 32-bit integer sums are exact, so the order does not matter. A span no wider than the
/// strips is transposed once. Lanes of rows `>= n` hold copies of row `n - 1` (or stale bytes) whose
/// results are not written.
#[inline(always)]
fn horizontal_block<const C: usize, const L: usize>(
    rows: &[u8],
    n: usize,
    geom: HGeom<'_>,
    out: &mut [u8],
    strips: &mut [u8],
    scratch: &mut [i32],
) {
    let HGeom {
        in_stride,
        x1,
        coeffs,
    } = geom;
    let out_stride = coeffs.bounds.len() * C;
    let tile_cols = strips.len() / L;
    let transpose = |t0: usize, t1: usize, strips: &mut [u8]| {
        let npx = t1 - t0;
        if C == 3 && L == 48 {
            transpose_rgb_block(rows, n, in_stride, t0, npx, strips);
        } else if C == 1 && L == 32 {
            transpose_l_block(rows, n, in_stride, t0, npx, strips);
        } else {
            for r in 0..n {
                let row = &rows[r * in_stride + t0 * C..r * in_stride + t1 * C];
                let lane = r * C;
                for (px, strip) in row.chunks_exact(C).zip(strips.chunks_exact_mut(L)) {
                    strip[lane..lane + C].copy_from_slice(px);
                }
            }
        }
    };
    // The tile of input columns in `strips`: [t0, t1) (empty at first).
    let (mut t0, mut t1) = (0usize, 0usize);
    for xx in 0..coeffs.bounds.len() {
        let (start, k) = coeffs.window(xx, scratch);
        let mut acc = [HALF; L];
        let mut pos = start;
        let end = start + k.len();
        while pos < end {
            if pos < t0 || pos >= t1 {
                t0 = pos;
                t1 = (pos + tile_cols).min(x1);
                transpose(t0, t1, strips);
            }
            let stop = end.min(t1);
            let base = (pos - t0) * L;
            for (i, &w) in k[pos - start..stop - start].iter().enumerate() {
                let strip: &[u8; L] = match strips[base + i * L..base + i * L + L].try_into() {
                    Ok(s) => s,
                    Err(_) => continue, // unreachable: the slice has exactly L bytes
                };
                for j in 0..L {
                    acc[j] = acc[j].wrapping_add(i32::from(strip[j]).wrapping_mul(w));
                }
            }
            pos = stop;
        }
        let mut bytes = [0u8; L];
        for j in 0..L {
            bytes[j] = clip8(acc[j]);
        }
        for r in 0..n {
            let o = r * out_stride + xx * C;
            if C == 3 && L == 48 {
                // RGB strips are channel-planar: lane `ch * 16 + r`.
                let px = &mut out[o..o + 3];
                px[0] = bytes[r];
                px[1] = bytes[16 + r];
                px[2] = bytes[32 + r];
            } else {
                out[o..o + C].copy_from_slice(&bytes[r * C..r * C + C]);
            }
        }
    }
}

/// The RGB transposition of [`horizontal_block`] for 16 rows, channel-planar: byte `ch` of pixel `x`
/// of row `r` goes to `strips[x * 48 + ch * 16 + r]`. Runs of 16 pixels are three 16x16 byte transposes
/// (SSE2) whose 48 columns land at offsets known at compile time; the rest is copied byte by byte.
/// Rows `>= n` repeat row `n - 1`.
#[inline(always)]
fn transpose_rgb_block(
    rows: &[u8],
    n: usize,
    in_stride: usize,
    x0: usize,
    npx: usize,
    strips: &mut [u8],
) {
    if n == 0 || npx == 0 {
        return;
    }
    let row = |r: usize| {
        let r = r.min(n - 1);
        &rows[r * in_stride + x0 * 3..r * in_stride + (x0 + npx) * 3]
    };
    let src: [&[u8]; 16] = std::array::from_fn(row);
    let mut p0 = 0;
    while p0 + 16 <= npx {
        let chunk: &mut [u8; 768] = match (&mut strips[p0 * 48..(p0 + 16) * 48]).try_into() {
            Ok(c) => c,
            Err(_) => return, // unreachable: the range is 768 bytes
        };
        let b0 = p0 * 3;
        store_rgb_cols::<0>(chunk, transpose16x16(load_cols(&src, b0)));
        store_rgb_cols::<1>(chunk, transpose16x16(load_cols(&src, b0 + 16)));
        store_rgb_cols::<2>(chunk, transpose16x16(load_cols(&src, b0 + 32)));
        p0 += 16;
    }
    for (r, row) in src.iter().enumerate() {
        for x in p0..npx {
            for ch in 0..3 {
                strips[x * 48 + ch * 16 + r] = row[x * 3 + ch];
            }
        }
    }
}

/// The L transposition of [`horizontal_block`] for 32 rows: pixel `x` of row `r` goes to
/// `strips[x * 32 + r]`, by 16x16 byte transposes (SSE2) for runs of 16 pixels. Rows `>= n` repeat row
/// `n - 1`.
#[inline(always)]
fn transpose_l_block(
    rows: &[u8],
    n: usize,
    in_stride: usize,
    x0: usize,
    npx: usize,
    strips: &mut [u8],
) {
    if n == 0 || npx == 0 {
        return;
    }
    let row = |r: usize| {
        let r = r.min(n - 1);
        &rows[r * in_stride + x0..r * in_stride + x0 + npx]
    };
    for r0 in [0, 16] {
        let src: [&[u8]; 16] = std::array::from_fn(|i| row(r0 + i));
        let mut p0 = 0;
        while p0 + 16 <= npx {
            let cols = transpose16x16(load_cols(&src, p0));
            for (j, col) in cols.into_iter().enumerate() {
                let off = (p0 + j) * 32 + r0;
                store16(&mut strips[off..off + 16], col);
            }
            p0 += 16;
        }
        for (r, row) in src.iter().enumerate() {
            for x in p0..npx {
                strips[x * 32 + r0 + r] = row[x];
            }
        }
    }
}

/// Bytes `b0 .. b0 + 16` of each of 16 rows (all long enough).
#[inline(always)]
fn load_cols(rows: &[&[u8]; 16], b0: usize) -> [Col16; 16] {
    std::array::from_fn(|i| load16(&rows[i][b0..b0 + 16]))
}

/// Stores the 16 byte columns `16 * T .. 16 * T + 16` of a run of 16 RGB pixels into their strips.
#[inline(always)]
fn store_rgb_cols<const T: usize>(chunk: &mut [u8; 768], cols: [Col16; 16]) {
    for (j, col) in cols.into_iter().enumerate() {
        let b = 16 * T + j;
        let off = (b / 3) * 48 + (b % 3) * 16;
        store16(&mut chunk[off..off + 16], col);
    }
}

/// 16 bytes in a register (x86_64) or an array (elsewhere).
#[cfg(target_arch = "x86_64")]
type Col16 = std::arch::x86_64::__m128i;
#[cfg(not(target_arch = "x86_64"))]
type Col16 = [u8; 16];

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn load16(bytes: &[u8]) -> Col16 {
    assert!(bytes.len() >= 16);
    // SAFETY: `bytes` has at least 16 readable bytes (asserted); `_mm_loadu_si128` (SSE2, in the
    // x86_64 baseline) has no alignment requirement.
    unsafe { std::arch::x86_64::_mm_loadu_si128(bytes.as_ptr().cast()) }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn store16(dst: &mut [u8], v: Col16) {
    assert!(dst.len() >= 16);
    // SAFETY: `dst` has at least 16 writable bytes (asserted); `_mm_storeu_si128` (SSE2, in the
    // x86_64 baseline) has no alignment requirement.
    unsafe { std::arch::x86_64::_mm_storeu_si128(dst.as_mut_ptr().cast(), v) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn load16(bytes: &[u8]) -> Col16 {
    let mut v = [0u8; 16];
    v.copy_from_slice(&bytes[..16]);
    v
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn store16(dst: &mut [u8], v: Col16) {
    dst[..16].copy_from_slice(&v);
}

/// Transposes a 16x16 byte matrix held as 16 rows: column `j` of the result holds byte `j` of every
/// row, in row order.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn transpose16x16(a: [Col16; 16]) -> [Col16; 16] {
    use std::arch::x86_64::*;
    // Round k interleaves 2^k-byte units of neighbouring row groups (registers are indexed
    // `column group * row groups + row group`; each round halves the row groups and doubles the
    // column groups), so after four rounds register j holds column j.
    // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 CPU has these instructions, and they
    // only compute on register values.
    unsafe {
        let [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15] = a;
        let r0_0 = _mm_unpacklo_epi8(a0, a1);
        let r0_8 = _mm_unpackhi_epi8(a0, a1);
        let r0_1 = _mm_unpacklo_epi8(a2, a3);
        let r0_9 = _mm_unpackhi_epi8(a2, a3);
        let r0_2 = _mm_unpacklo_epi8(a4, a5);
        let r0_10 = _mm_unpackhi_epi8(a4, a5);
        let r0_3 = _mm_unpacklo_epi8(a6, a7);
        let r0_11 = _mm_unpackhi_epi8(a6, a7);
        let r0_4 = _mm_unpacklo_epi8(a8, a9);
        let r0_12 = _mm_unpackhi_epi8(a8, a9);
        let r0_5 = _mm_unpacklo_epi8(a10, a11);
        let r0_13 = _mm_unpackhi_epi8(a10, a11);
        let r0_6 = _mm_unpacklo_epi8(a12, a13);
        let r0_14 = _mm_unpackhi_epi8(a12, a13);
        let r0_7 = _mm_unpacklo_epi8(a14, a15);
        let r0_15 = _mm_unpackhi_epi8(a14, a15);
        let r1_0 = _mm_unpacklo_epi16(r0_0, r0_1);
        let r1_4 = _mm_unpackhi_epi16(r0_0, r0_1);
        let r1_1 = _mm_unpacklo_epi16(r0_2, r0_3);
        let r1_5 = _mm_unpackhi_epi16(r0_2, r0_3);
        let r1_2 = _mm_unpacklo_epi16(r0_4, r0_5);
        let r1_6 = _mm_unpackhi_epi16(r0_4, r0_5);
        let r1_3 = _mm_unpacklo_epi16(r0_6, r0_7);
        let r1_7 = _mm_unpackhi_epi16(r0_6, r0_7);
        let r1_8 = _mm_unpacklo_epi16(r0_8, r0_9);
        let r1_12 = _mm_unpackhi_epi16(r0_8, r0_9);
        let r1_9 = _mm_unpacklo_epi16(r0_10, r0_11);
        let r1_13 = _mm_unpackhi_epi16(r0_10, r0_11);
        let r1_10 = _mm_unpacklo_epi16(r0_12, r0_13);
        let r1_14 = _mm_unpackhi_epi16(r0_12, r0_13);
        let r1_11 = _mm_unpacklo_epi16(r0_14, r0_15);
        let r1_15 = _mm_unpackhi_epi16(r0_14, r0_15);
        let r2_0 = _mm_unpacklo_epi32(r1_0, r1_1);
        let r2_2 = _mm_unpackhi_epi32(r1_0, r1_1);
        let r2_1 = _mm_unpacklo_epi32(r1_2, r1_3);
        let r2_3 = _mm_unpackhi_epi32(r1_2, r1_3);
        let r2_4 = _mm_unpacklo_epi32(r1_4, r1_5);
        let r2_6 = _mm_unpackhi_epi32(r1_4, r1_5);
        let r2_5 = _mm_unpacklo_epi32(r1_6, r1_7);
        let r2_7 = _mm_unpackhi_epi32(r1_6, r1_7);
        let r2_8 = _mm_unpacklo_epi32(r1_8, r1_9);
        let r2_10 = _mm_unpackhi_epi32(r1_8, r1_9);
        let r2_9 = _mm_unpacklo_epi32(r1_10, r1_11);
        let r2_11 = _mm_unpackhi_epi32(r1_10, r1_11);
        let r2_12 = _mm_unpacklo_epi32(r1_12, r1_13);
        let r2_14 = _mm_unpackhi_epi32(r1_12, r1_13);
        let r2_13 = _mm_unpacklo_epi32(r1_14, r1_15);
        let r2_15 = _mm_unpackhi_epi32(r1_14, r1_15);
        let r3_0 = _mm_unpacklo_epi64(r2_0, r2_1);
        let r3_1 = _mm_unpackhi_epi64(r2_0, r2_1);
        let r3_2 = _mm_unpacklo_epi64(r2_2, r2_3);
        let r3_3 = _mm_unpackhi_epi64(r2_2, r2_3);
        let r3_4 = _mm_unpacklo_epi64(r2_4, r2_5);
        let r3_5 = _mm_unpackhi_epi64(r2_4, r2_5);
        let r3_6 = _mm_unpacklo_epi64(r2_6, r2_7);
        let r3_7 = _mm_unpackhi_epi64(r2_6, r2_7);
        let r3_8 = _mm_unpacklo_epi64(r2_8, r2_9);
        let r3_9 = _mm_unpackhi_epi64(r2_8, r2_9);
        let r3_10 = _mm_unpacklo_epi64(r2_10, r2_11);
        let r3_11 = _mm_unpackhi_epi64(r2_10, r2_11);
        let r3_12 = _mm_unpacklo_epi64(r2_12, r2_13);
        let r3_13 = _mm_unpackhi_epi64(r2_12, r2_13);
        let r3_14 = _mm_unpacklo_epi64(r2_14, r2_15);
        let r3_15 = _mm_unpackhi_epi64(r2_14, r2_15);
        [
            r3_0, r3_1, r3_2, r3_3, r3_4, r3_5, r3_6, r3_7, r3_8, r3_9, r3_10, r3_11, r3_12, r3_13,
            r3_14, r3_15,
        ]
    }
}

/// Transposes a 16x16 byte matrix (portable version).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn transpose16x16(m: [Col16; 16]) -> [Col16; 16] {
    let mut out = [[0u8; 16]; 16];
    for (i, row) in m.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            out[j][i] = v;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------
// Vertical pass: each output row is a weighted sum of whole input rows (contiguous, vectorizes). Runs
// of `V_BLOCK` columns are accumulated in registers over all taps before being stored.

const V_BLOCK: usize = 64;

/// Vertical pass over the whole width of `img`.
fn vertical_pass<const C: usize>(
    img: Img<'_>,
    coeffs: &AxisCoeffs,
    dst: &mut [u8],
    parallel: bool,
) -> Result<(), ResizeError> {
    vertical_pass_cols::<C>(img, 0, img.width, coeffs, dst, parallel)
}

/// Vertical pass over columns `[x0, x0 + w)` of `img` into `dst` (`out_h` rows of `w * C` bytes).
fn vertical_pass_cols<const C: usize>(
    img: Img<'_>,
    x0: usize,
    w: usize,
    coeffs: &AxisCoeffs,
    dst: &mut [u8],
    parallel: bool,
) -> Result<(), ResizeError> {
    let in_stride = img.width * C;
    let out_stride = w * C;
    let col0 = x0 * C;
    let run = |scratch: &mut Vec<i32>, (yy, out_row): (usize, &mut [u8])| {
        let (start, k) = coeffs.window(yy, scratch);
        vertical_row_dispatch(img.data, in_stride, col0 + start * in_stride, k, out_row);
    };
    // Weights computed per window need a scratch buffer of up to a whole axis: one, serially.
    if parallel && !coeffs.lazy() {
        dst.par_chunks_mut(out_stride)
            .enumerate()
            .for_each_init(Vec::new, run);
    } else {
        let mut scratch = coeffs.scratch()?;
        dst.chunks_mut(out_stride)
            .enumerate()
            .for_each(|item| run(&mut scratch, item));
    }
    Ok(())
}

fn vertical_row_dispatch(
    data: &[u8],
    in_stride: usize,
    first: usize,
    k: &[i32],
    out_row: &mut [u8],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), which is all `vertical_row_avx2`
            // requires; the function itself is safe Rust.
            unsafe { vertical_row_avx2(data, in_stride, first, k, out_row) };
            return;
        }
    }
    vertical_row(data, in_stride, first, k, out_row);
}

/// # Safety
/// The CPU must support AVX2 (the dispatcher checks it first); `unsafe fn` for Rust 1.85, as above.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn vertical_row_avx2(
    data: &[u8],
    in_stride: usize,
    first: usize,
    k: &[i32],
    out_row: &mut [u8],
) {
    vertical_row(data, in_stride, first, k, out_row);
}

/// `out_row[j] = clip8(HALF + Σ_i data[first + i * in_stride + j] * k[i])`.
#[inline(always)]
fn vertical_row(data: &[u8], in_stride: usize, first: usize, k: &[i32], out_row: &mut [u8]) {
    let width = out_row.len();
    let mut c0 = 0;
    while c0 + V_BLOCK <= width {
        vertical_block::<V_BLOCK>(
            data,
            in_stride,
            first + c0,
            k,
            &mut out_row[c0..c0 + V_BLOCK],
        );
        c0 += V_BLOCK;
    }
    while c0 + 16 <= width {
        vertical_block::<16>(data, in_stride, first + c0, k, &mut out_row[c0..c0 + 16]);
        c0 += 16;
    }
    if c0 < width {
        let len = width - c0;
        let mut acc = [HALF; 16];
        for (i, &w) in k.iter().enumerate() {
            let off = first + i * in_stride + c0;
            for (a, &p) in acc[..len].iter_mut().zip(&data[off..off + len]) {
                *a = a.wrapping_add(i32::from(p).wrapping_mul(w));
            }
        }
        for (o, &a) in out_row[c0..].iter_mut().zip(acc.iter()) {
            *o = clip8(a);
        }
    }
}

/// `N` columns starting at byte `first` of the first tap's row, accumulated in registers.
#[inline(always)]
fn vertical_block<const N: usize>(
    data: &[u8],
    in_stride: usize,
    first: usize,
    k: &[i32],
    out: &mut [u8],
) {
    let mut acc = [HALF; N];
    for (i, &w) in k.iter().enumerate() {
        let off = first + i * in_stride;
        let src: &[u8; N] = match data[off..off + N].try_into() {
            Ok(s) => s,
            Err(_) => continue, // unreachable: the slice has exactly N bytes
        };
        for j in 0..N {
            acc[j] = acc[j].wrapping_add(i32::from(src[j]).wrapping_mul(w));
        }
    }
    for (o, &a) in out.iter_mut().zip(acc.iter()) {
        *o = clip8(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A straightforward transcription of the algorithm (one pass at a time, scalar, i64
    /// accumulators) to check the vectorized kernels against.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        src: &[u8],
        w: usize,
        h: usize,
        c: usize,
        ow: usize,
        oh: usize,
        f: Filter,
        vfirst: bool,
    ) -> Vec<u8> {
        let hpass = |data: &[u8], w: usize, h: usize, co: &AxisCoeffs| {
            let ow = co.bounds.len();
            let mut out = vec![0u8; ow * h * c];
            let mut scratch = co.scratch().unwrap();
            for y in 0..h {
                for x in 0..ow {
                    let (s, k) = co.window(x, &mut scratch);
                    for ch in 0..c {
                        let mut acc: i64 = HALF as i64;
                        for (i, &kk) in k.iter().enumerate() {
                            acc += data[(y * w + s + i) * c + ch] as i64 * kk as i64;
                        }
                        out[(y * ow + x) * c + ch] = (acc >> 22).clamp(0, 255) as u8;
                    }
                }
            }
            out
        };
        let vpass = |data: &[u8], w: usize, _h: usize, co: &AxisCoeffs| {
            let oh = co.bounds.len();
            let mut out = vec![0u8; w * oh * c];
            let mut scratch = co.scratch().unwrap();
            for y in 0..oh {
                let (s, k) = co.window(y, &mut scratch);
                for x in 0..w * c {
                    let mut acc: i64 = HALF as i64;
                    for (i, &kk) in k.iter().enumerate() {
                        acc += data[(s + i) * w * c + x] as i64 * kk as i64;
                    }
                    out[y * w * c + x] = (acc >> 22).clamp(0, 255) as u8;
                }
            }
            out
        };
        let hc = AxisCoeffs::new(w, ow, f).unwrap();
        let vc = AxisCoeffs::new(h, oh, f).unwrap();
        let (dw, dh) = (w != ow, h != oh);
        match (dw, dh) {
            (false, false) => src.to_vec(),
            (true, false) => hpass(src, w, h, &hc),
            (false, true) => vpass(src, w, h, &vc),
            (true, true) if vfirst => {
                let mid = vpass(src, w, h, &vc);
                hpass(&mid, w, oh, &hc)
            }
            (true, true) => {
                let mid = hpass(src, w, h, &hc);
                vpass(&mid, ow, h, &vc)
            }
        }
    }

    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn row_resizer_equals_run_for_any_row_batches() {
        let sizes = [
            (1usize, 1usize, 1usize, 1usize),
            (7, 5, 3, 2),
            (40, 30, 8, 8),
            (33, 100, 5, 4),
            (100, 33, 4, 5),
            (64, 64, 64, 64),
            (64, 48, 32, 48),
            (5, 9, 11, 13),
            (300, 200, 32, 32),
        ];
        let mut seed = 1u64;
        let mut streamed = 0;
        for &(w, h, ow, oh) in &sizes {
            for filter in Filter::ALL {
                for compat in [
                    PillowCompat::V12Legacy,
                    PillowCompat::V12,
                    PillowCompat::V13,
                ] {
                    for c in [1usize, 3, 4] {
                        seed += 1;
                        let src = noise(w * h * c, seed);
                        let plan = Arc::new(ResizePlan::new(w, h, ow, oh, filter, compat).unwrap());
                        let want = plan
                            .run(&ImageView::new(&src, w, h, c).unwrap(), false)
                            .unwrap();
                        let Some(mut rr) = RowResizer::new(Arc::clone(&plan), c).unwrap() else {
                            // Only what cannot stream is refused.
                            assert!(
                                c == 4
                                    || filter == Filter::Nearest
                                    || plan.vertical_first()
                                    || w == ow,
                                "{w}x{h} -> {ow}x{oh} {filter:?} {compat:?} c{c}"
                            );
                            continue;
                        };
                        // Batches of 1 to 37 rows.
                        let mut y = 0;
                        while y < h {
                            let n = (1 + (seed as usize * 7 + y * 13) % 37).min(h - y);
                            rr.push(&src[y * w * c..(y + n) * w * c]).unwrap();
                            y += n;
                        }
                        assert_eq!(
                            rr.finish().unwrap(),
                            want,
                            "{w}x{h} -> {ow}x{oh} {filter:?} {compat:?} c{c}"
                        );
                        streamed += 1;
                    }
                }
            }
        }
        assert!(streamed > 150, "{streamed}");
    }

    #[test]
    fn row_resizer_refuses_wrong_row_counts() {
        let plan =
            Arc::new(ResizePlan::new(10, 4, 3, 2, Filter::Bilinear, PillowCompat::V13).unwrap());
        let mut rr = RowResizer::new(Arc::clone(&plan), 3).unwrap().unwrap();
        assert!(rr.push(&[0u8; 29]).is_err(), "not whole rows");
        rr.push(&[0u8; 3 * 30]).unwrap();
        assert!(rr.push(&[0u8; 2 * 30]).is_err(), "more rows than the image");
        assert!(rr.finish().is_err(), "one row missing");
    }

    #[test]
    fn filter_codes_round_trip_and_unknown_is_an_error() {
        for f in Filter::ALL {
            assert_eq!(Filter::from_code(f.code()), Ok(f));
        }
        let e = Filter::from_code(6).unwrap_err();
        assert_eq!(e, ResizeError::Filter(6));
        assert!(e.to_string().contains("unknown resampling filter 6"));
        assert!(Filter::from_code(-1).is_err());
    }

    #[test]
    fn kernels_match_their_formulas() {
        assert_eq!(Filter::Bilinear.eval(0.25), 0.75);
        assert_eq!(Filter::Bilinear.eval(-1.0), 0.0);
        assert_eq!(Filter::Box.eval(0.5), 1.0);
        assert_eq!(Filter::Box.eval(-0.5), 0.0);
        assert_eq!(Filter::Bicubic.eval(0.0), 1.0);
        assert_eq!(Filter::Bicubic.eval(1.0), 0.0);
        // a = -0.5: f(1.5) = ((1.5 - 5) * 1.5 + 8) * 1.5 - 4) * -0.5 = -0.0625
        assert_eq!(Filter::Bicubic.eval(1.5), -0.0625);
        assert_eq!(Filter::Lanczos.eval(3.0), 0.0);
        assert!(Filter::Lanczos.eval(-3.0).abs() < 1e-15);
        assert_eq!(Filter::Hamming.eval(0.0), 1.0);
        let x = 0.5 * std::f64::consts::PI;
        let expect = x.sin() / x * (0.54f32 as f64 + 0.46f32 as f64 * x.cos());
        assert_eq!(Filter::Hamming.eval(0.5), expect);
    }

    #[test]
    fn fixed_point_rounds_half_away_from_zero() {
        assert_eq!(to_fixed(1.0), 1 << 22);
        assert_eq!(to_fixed(0.5), 1 << 21);
        // 2^-23 * 2^22 = 0.5 -> rounds away from zero
        assert_eq!(to_fixed(2f64.powi(-23)), 1);
        assert_eq!(to_fixed(-(2f64.powi(-23))), -1);
        assert_eq!(to_fixed(2f64.powi(-24)), 0);
        assert_eq!(to_fixed(-0.25), -(1 << 20));
    }

    #[test]
    fn downscale_by_two_bilinear_weights() {
        // 4 -> 2, scale 2: support 2, centers 1.0 and 3.0
        let c = AxisCoeffs::new(4, 2, Filter::Bilinear).unwrap();
        assert_eq!(c.ksize, 5);
        assert_eq!(c.bounds, vec![(0, 3), (1, 3)]);
        // weights (1 - |i + 0.5 - 1| / 2) = 0.75, 0.75, 0.25 normalized by 1.75
        let w: Vec<i32> = [0.75 / 1.75, 0.75 / 1.75, 0.25 / 1.75]
            .iter()
            .map(|&w| to_fixed(w))
            .collect();
        assert_eq!(&c.fixed[0..3], &w[..]);
        assert_eq!(c.bounds[1], (1, 3));
        // the table's rows are no longer than the axis (4), though Pillow's ksize is 5
        assert_eq!(c.stride, 4);
    }

    #[test]
    fn windows_computed_on_use_equal_the_stored_table() {
        for f in [
            Filter::Lanczos,
            Filter::Bilinear,
            Filter::Bicubic,
            Filter::Box,
            Filter::Hamming,
        ] {
            for (i, o) in [(1000, 7), (7, 1000), (50_000, 3), (3, 17), (12345, 12344)] {
                let eager = AxisCoeffs::with_box_limit(i, 0.0, i as f32, o, f, usize::MAX).unwrap();
                let lazy = AxisCoeffs::with_box_limit(i, 0.0, i as f32, o, f, 0).unwrap();
                assert!(lazy.fixed.is_empty() && !eager.fixed.is_empty());
                assert_eq!(eager.bounds, lazy.bounds);
                let (mut s1, mut s2) = (eager.scratch().unwrap(), lazy.scratch().unwrap());
                for xx in 0..o {
                    assert_eq!(
                        eager.window(xx, &mut s1),
                        lazy.window(xx, &mut s2),
                        "{f} {i}->{o} {xx}"
                    );
                }
            }
        }
    }

    /// Extreme aspect ratios: windows far wider than the strips (tiled), tables too large to store
    /// (weights per window), both pass orders; the same bytes as the scalar reference.
    #[test]
    fn extreme_aspect_ratios_match_the_reference() {
        let cases = [
            (100_000usize, 1usize, 32usize, 32usize, 1usize),
            (1, 100_000, 32, 32, 1),
            (40_000, 3, 7, 5, 3),
            (3, 40_000, 5, 7, 3),
            (TILE_COLS + 1000, 2, TILE_COLS + 999, 1, 3),
            (TILE_COLS * 2 + 5, 1, 3, 1, 4),
            (2_000_000, 1, 1, 1, 1),
            (5_000_000, 1, 1, 1, 1),
            (1, 5_000_000, 2, 1, 1),
            (3, 1, 1_500_000, 3, 1),
        ];
        for &(w, h, ow, oh, c) in &cases {
            let px = noise(w * h * c, (w + 3 * h) as u64);
            let img = ImageView::new(&px, w, h, c).unwrap();
            for f in [Filter::Bilinear, Filter::Lanczos] {
                for compat in [PillowCompat::V13, PillowCompat::V12Legacy] {
                    let plan = ResizePlan::new(w, h, ow, oh, f, compat).unwrap();
                    if c == 4 {
                        // premultiplied: compare with the serial path only
                        assert_eq!(
                            plan.run(&img, true).unwrap(),
                            plan.run(&img, false).unwrap()
                        );
                        continue;
                    }
                    let want = reference(&px, w, h, c, ow, oh, f, plan.vertical_first());
                    assert_eq!(
                        plan.run(&img, true).unwrap(),
                        want,
                        "{w}x{h}x{c} -> {ow}x{oh} {f}"
                    );
                }
            }
        }
        // 5,000,000 -> 1 with LANCZOS: a window of the whole axis, not stored as a table
        let c = AxisCoeffs::new(5_000_000, 1, Filter::Lanczos).unwrap();
        assert!(c.fixed.is_empty());
        assert_eq!(c.bounds, vec![(0, 5_000_000)]);
    }

    #[test]
    fn upscale_window_is_clipped_at_the_edges() {
        let c = AxisCoeffs::new(2, 5, Filter::Lanczos).unwrap();
        assert_eq!(c.ksize, 7);
        for &(s, n) in &c.bounds {
            assert!(s + n <= 2);
            assert!(n >= 1);
        }
        // one input pixel: every output copies it
        let c = AxisCoeffs::new(1, 3, Filter::Bicubic).unwrap();
        assert!(c.bounds.iter().all(|&b| b == (0, 1)));
        assert!(c.fixed.chunks(c.stride).all(|k| k[0] == 1 << 22));
    }

    #[test]
    fn nearest_table_accumulates_like_pillow() {
        assert_eq!(nearest_indices(4, 2).unwrap(), vec![Some(1), Some(3)]);
        assert_eq!(nearest_indices(1, 3).unwrap(), vec![Some(0); 3]);
        assert_eq!(nearest_indices(3, 1).unwrap(), vec![Some(1)]);
        let t = nearest_indices(10, 3).unwrap();
        assert_eq!(t, vec![Some(1), Some(5), Some(8)]);
    }

    #[test]
    fn errors_name_the_value_and_never_panic() {
        let px = [0u8; 12];
        assert_eq!(
            ImageView::new(&px, 0, 4, 3).unwrap_err(),
            ResizeError::ZeroSize {
                what: "width",
                value: 0
            }
        );
        assert_eq!(
            ImageView::new(&px, 4, 0, 3).unwrap_err(),
            ResizeError::ZeroSize {
                what: "height",
                value: 0
            }
        );
        let e = ImageView::new(&px, 2, 2, 2).unwrap_err();
        assert_eq!(e, ResizeError::Channels(2));
        assert!(e.to_string().contains("got 2"));
        assert!(ImageView::new(&px, 2, 2, 5).is_err());
        let e = ImageView::new(&px, 2, 3, 3).unwrap_err();
        assert!(
            matches!(
                e,
                ResizeError::BufferLength {
                    got: 12,
                    expected: 18,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("12 bytes"));
        let img = ImageView::new(&px, 2, 2, 3).unwrap();
        let e = resize(&img, 0, 3, Filter::Bilinear, PillowCompat::V13).unwrap_err();
        assert_eq!(
            e,
            ResizeError::ZeroSize {
                what: "output width",
                value: 0
            }
        );
        let e = resize(&img, 3, 0, Filter::Bilinear, PillowCompat::V13).unwrap_err();
        assert_eq!(
            e,
            ResizeError::ZeroSize {
                what: "output height",
                value: 0
            }
        );
        assert!(ImageView::new(&px, usize::MAX, 2, 3).is_err());
        assert!(resize(
            &img,
            usize::MAX / 2,
            usize::MAX / 2,
            Filter::Box,
            PillowCompat::V13
        )
        .is_err());
        // an output too large to allocate is an error, not an abort
        for f in [Filter::Nearest, Filter::Bilinear] {
            let e = resize(&img, MAX_SIDE, 1 << 30, f, PillowCompat::V13).unwrap_err();
            assert!(matches!(e, ResizeError::OutOfMemory { .. }), "{e}");
            assert!(e.to_string().contains("cannot allocate"));
        }
        // a plan for another size refuses the image
        let plan = ResizePlan::new(3, 3, 2, 2, Filter::Box, PillowCompat::V13).unwrap();
        assert!(plan.run(&img, false).is_err());
        let mut small = [0u8; 3];
        let plan = ResizePlan::new(2, 2, 2, 1, Filter::Box, PillowCompat::V13).unwrap();
        assert!(matches!(
            plan.run_into(&img, &mut small, false),
            Err(ResizeError::OutputLength { .. })
        ));
        assert_eq!(
            PillowCompat::from_version(0, 0),
            Err(ResizeError::Compat { major: 0, minor: 0 })
        );
    }

    #[test]
    fn compat_versions_and_rules() {
        assert_eq!(PillowCompat::from_version(13, 0), Ok(PillowCompat::V13));
        assert_eq!(PillowCompat::from_version(14, 2), Ok(PillowCompat::V13));
        assert_eq!(PillowCompat::from_version(12, 3), Ok(PillowCompat::V12));
        assert_eq!(PillowCompat::from_version(12, 2), Ok(PillowCompat::V12));
        assert_eq!(
            PillowCompat::from_version(12, 1),
            Ok(PillowCompat::V12Legacy)
        );
        assert_eq!(
            PillowCompat::from_version(10, 4),
            Ok(PillowCompat::V12Legacy)
        );
        assert_eq!(PillowCompat::from_major(12), Ok(PillowCompat::V12));
        assert_eq!(PillowCompat::from_major(13), Ok(PillowCompat::V13));
        assert!(PillowCompat::from_major(11).is_err());
        // 13: vertical first when the height loses more than twice the pixels the width loses
        assert!(PillowCompat::V13.vertical_first(100, 300, 90, 50));
        assert!(!PillowCompat::V13.vertical_first(100, 300, 10, 150));
        assert!(!PillowCompat::V13.vertical_first(100, 100, 120, 100));
        assert!(PillowCompat::V13.vertical_first(100, 100, 120, 99));
        assert!(!PillowCompat::V12.vertical_first(100, 300, 90, 50));
        assert!(PillowCompat::V12.vertical_first(2, 201, 1, 200));
        assert!(!PillowCompat::V12.vertical_first(2, 200, 1, 100));
        assert!(!PillowCompat::V12Legacy.vertical_first(2, 201, 1, 200));
    }

    #[test]
    fn same_size_is_a_copy() {
        let px = noise(5 * 7 * 3, 1);
        let img = ImageView::new(&px, 5, 7, 3).unwrap();
        for f in Filter::ALL {
            assert_eq!(resize(&img, 5, 7, f, PillowCompat::V13).unwrap(), px);
        }
    }

    #[test]
    fn constant_images_stay_constant() {
        for c in [1, 3, 4] {
            let px = vec![200u8; 37 * 23 * c];
            let img = ImageView::new(&px, 37, 23, c).unwrap();
            for f in Filter::ALL {
                for (ow, oh) in [(1, 1), (8, 8), (50, 9), (3, 40)] {
                    let out = resize(&img, ow, oh, f, PillowCompat::V13).unwrap();
                    assert!(out.iter().all(|&v| v == 200), "{f} {c} {ow}x{oh}");
                }
            }
        }
    }

    #[test]
    fn kernels_match_the_scalar_reference() {
        let sizes = [
            (1, 1),
            (1, 5),
            (5, 1),
            (2, 3),
            (7, 7),
            (33, 17),
            (64, 40),
            (100, 9),
        ];
        let mut seed = 7;
        for &(w, h) in &sizes {
            for c in [1, 3] {
                seed += 1;
                let px = noise(w * h * c, seed);
                let img = ImageView::new(&px, w, h, c).unwrap();
                for &(ow, oh) in &[
                    (1, 1),
                    (3, 2),
                    (8, 8),
                    (32, 32),
                    (13, 50),
                    (w, h + 3),
                    (w + 2, h),
                ] {
                    for f in Filter::ALL.into_iter().skip(1) {
                        for compat in [PillowCompat::V12Legacy, PillowCompat::V13] {
                            let plan = ResizePlan::new(w, h, ow, oh, f, compat).unwrap();
                            let want = reference(&px, w, h, c, ow, oh, f, plan.vertical_first());
                            assert_eq!(
                                plan.run(&img, false).unwrap(),
                                want,
                                "{w}x{h}x{c} -> {ow}x{oh} {f}"
                            );
                            assert_eq!(plan.run(&img, true).unwrap(), want);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn parallel_path_matches_serial_on_a_large_image() {
        let (w, h) = (1200, 900);
        let px = noise(w * h * 3, 99);
        let img = ImageView::new(&px, w, h, 3).unwrap();
        for (ow, oh) in [(64, 64), (1300, 100), (100, 1000)] {
            let plan = ResizePlan::new(w, h, ow, oh, Filter::Bicubic, PillowCompat::V13).unwrap();
            assert_eq!(
                plan.run(&img, true).unwrap(),
                plan.run(&img, false).unwrap()
            );
        }
    }

    #[test]
    fn rgba_is_resized_premultiplied() {
        // a transparent black pixel next to an opaque white one: premultiplied, the black does not
        // darken the white (white stays 255 where alpha > 0)
        let px = [0, 0, 0, 0, 255, 255, 255, 255];
        let img = ImageView::new(&px, 2, 1, 4).unwrap();
        let out = resize(&img, 1, 1, Filter::Bilinear, PillowCompat::V13).unwrap();
        assert_eq!(out[3], 128);
        assert_eq!(&out[..3], &[255, 255, 255]);
        // NEAREST skips the premultiplication
        let out = resize(&img, 1, 1, Filter::Nearest, PillowCompat::V13).unwrap();
        assert_eq!(out, vec![255, 255, 255, 255]);
    }

    #[test]
    fn resize_many_matches_one_by_one_and_names_the_failing_image() {
        let a = noise(40 * 30 * 3, 5);
        let b = noise(17 * 60, 6);
        let views = [
            ImageView::new(&a, 40, 30, 3).unwrap(),
            ImageView::new(&b, 17, 60, 1).unwrap(),
        ];
        let many = resize_many(&views, 8, 9, Filter::Bicubic, PillowCompat::V13).unwrap();
        for (v, out) in views.iter().zip(&many) {
            assert_eq!(
                out,
                &resize(v, 8, 9, Filter::Bicubic, PillowCompat::V13).unwrap()
            );
        }
        assert_eq!(
            resize_many(&[], 8, 9, Filter::Box, PillowCompat::V13),
            Ok(vec![])
        );
        let bad = ImageView {
            data: &a[..10],
            width: 40,
            height: 30,
            channels: 3,
        };
        let e = resize_many(&[views[0], bad], 8, 9, Filter::Box, PillowCompat::V13).unwrap_err();
        assert_eq!(e.0, 1);
        assert!(matches!(e.1, ResizeError::BufferLength { got: 10, .. }));
    }

    #[test]
    fn byte_transpose() {
        let m: [[u8; 16]; 16] =
            std::array::from_fn(|i| std::array::from_fn(|j| (i * 16 + j) as u8));
        let cols = transpose16x16(std::array::from_fn(|i| load16(&m[i])));
        for (j, col) in cols.into_iter().enumerate() {
            let mut t = [0u8; 16];
            store16(&mut t, col);
            for i in 0..16 {
                assert_eq!(t[i], m[i][j]);
            }
        }
    }

    #[test]
    fn nearest_picks_pixels() {
        let px: Vec<u8> = (0..12).collect();
        let img = ImageView::new(&px, 4, 3, 1).unwrap();
        let out = resize(&img, 2, 1, Filter::Nearest, PillowCompat::V13).unwrap();
        assert_eq!(out, vec![5, 7]);
    }
}
