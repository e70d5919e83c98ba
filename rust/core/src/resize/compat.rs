//! Which Pillow release's pass order to reproduce: [`PillowCompat`], its parsing from version
//! numbers, and the rule each release uses to run the vertical pass first.
//!
//! A Pillow release that changes the pass order is a new variant here (and its number in
//! `from_version` / `from_major`); the plan only asks [`PillowCompat::vertical_first`].

use super::ResizeError;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
