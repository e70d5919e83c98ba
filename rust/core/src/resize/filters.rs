//! Pillow's resampling filters: their numbers and names, the half-width of each kernel at scale 1
//! (its support) and the kernel functions with Pillow's formulas and operation order.
//!
//! A new convolution filter is a new variant here (number, name, support, kernel); the coefficients,
//! passes and kernels need no change.

use std::fmt;

use super::ResizeError;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
