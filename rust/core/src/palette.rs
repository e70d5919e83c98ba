//! The color palette ("clusters") of an ImageGPT model: `K` cluster centers in normalized RGB space.
//!
//! transformers keeps the clusters as `np.array(clusters)`: float64 when they come from JSON or Python
//! lists, float32 when the user passes a float32 array. The dtype changes the arithmetic of the
//! nearest-cluster search (see [`crate::quantize`]), so a [`Palette`] keeps it.

use thiserror::Error;

/// The largest number of clusters: ids must fit in `u16` (the lookup table stores `u16`).
pub const MAX_CLUSTERS: usize = 65535;

/// Why a set of clusters cannot form a palette. Messages name the row/column and the value.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PaletteError {
    /// The values do not form rows of 3 (R, G, B).
    #[error("clusters must have shape (n_clusters, 3), got {0}")]
    Shape(String),
    /// No clusters at all.
    #[error("clusters must hold at least 1 cluster, got 0 rows")]
    Empty,
    /// More clusters than ids fit in `u16`.
    #[error(
        "clusters hold {0} rows, more than the maximum of {MAX_CLUSTERS} (ids must fit in uint16)"
    )]
    TooMany(usize),
    /// A NaN or infinite value.
    #[error("clusters[{row}, {col}] = {value} is not finite (every cluster value must be a finite number)")]
    NonFinite {
        row: usize,
        col: usize,
        value: String,
    },
}

/// The cluster values with their dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum Clusters {
    /// float32 clusters: the search runs in float32 (`sgemm`).
    F32(Vec<[f32; 3]>),
    /// float64 clusters: the search runs in float64 (`dgemm`).
    F64(Vec<[f64; 3]>),
}

/// A validated palette: `1 <= K <= 65535` rows of 3 finite values, dtype kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    clusters: Clusters,
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "nan".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        }
    } else {
        format!("{v}")
    }
}

fn check_len(len: usize) -> Result<usize, PaletteError> {
    if len % 3 != 0 {
        return Err(PaletteError::Shape(format!(
            "{len} values, not a multiple of 3"
        )));
    }
    let k = len / 3;
    if k == 0 {
        return Err(PaletteError::Empty);
    }
    if k > MAX_CLUSTERS {
        return Err(PaletteError::TooMany(k));
    }
    Ok(k)
}

impl Palette {
    /// Builds a float32 palette from row-major values `[r0, g0, b0, r1, ...]`.
    pub fn from_f32(values: &[f32]) -> Result<Self, PaletteError> {
        check_len(values.len())?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(PaletteError::NonFinite {
                row: i / 3,
                col: i % 3,
                value: format_value(values[i] as f64),
            });
        }
        Ok(Self {
            clusters: Clusters::F32(values.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()),
        })
    }

    /// Builds a float64 palette from row-major values `[r0, g0, b0, r1, ...]`.
    pub fn from_f64(values: &[f64]) -> Result<Self, PaletteError> {
        check_len(values.len())?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(PaletteError::NonFinite {
                row: i / 3,
                col: i % 3,
                value: format_value(values[i]),
            });
        }
        Ok(Self {
            clusters: Clusters::F64(values.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()),
        })
    }

    /// The number of clusters `K`.
    pub fn len(&self) -> usize {
        match &self.clusters {
            Clusters::F32(c) => c.len(),
            Clusters::F64(c) => c.len(),
        }
    }

    /// Never true (a palette holds at least one cluster); present for API completeness.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cluster values with their dtype.
    pub fn clusters(&self) -> &Clusters {
        &self.clusters
    }

    /// `"float32"` or `"float64"`.
    pub fn dtype_name(&self) -> &'static str {
        match &self.clusters {
            Clusters::F32(_) => "float32",
            Clusters::F64(_) => "float64",
        }
    }

    /// The values as float64, row-major (exact for both dtypes).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match &self.clusters {
            Clusters::F32(c) => c.iter().flat_map(|r| r.iter().map(|&v| v as f64)).collect(),
            Clusters::F64(c) => c.iter().flat_map(|r| r.iter().copied()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_and_keeps_dtype() {
        let p = Palette::from_f32(&[0.0, 0.5, -1.0, 1.0, 1.0, 1.0]).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p.dtype_name(), "float32");
        let p = Palette::from_f64(&[0.25, 0.5, -3.0]).unwrap();
        assert_eq!(p.dtype_name(), "float64");
        assert_eq!(p.to_f64_vec(), vec![0.25, 0.5, -3.0]);
    }

    #[test]
    fn rejects_bad_shapes_and_counts() {
        assert_eq!(Palette::from_f64(&[]), Err(PaletteError::Empty));
        assert!(matches!(
            Palette::from_f64(&[1.0, 2.0]),
            Err(PaletteError::Shape(_))
        ));
        let too_many = vec![0.0f32; 3 * (MAX_CLUSTERS + 1)];
        assert_eq!(
            Palette::from_f32(&too_many),
            Err(PaletteError::TooMany(MAX_CLUSTERS + 1))
        );
        assert!(Palette::from_f32(&vec![0.0f32; 3 * MAX_CLUSTERS]).is_ok());
    }

    #[test]
    fn non_finite_names_row_and_column() {
        let e = Palette::from_f64(&[0.0, 0.0, 0.0, 0.0, f64::NAN, 0.0]).unwrap_err();
        assert_eq!(
            e,
            PaletteError::NonFinite {
                row: 1,
                col: 1,
                value: "nan".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "clusters[1, 1] = nan is not finite (every cluster value must be a finite number)"
        );
        let e = Palette::from_f32(&[0.0, 0.0, f32::NEG_INFINITY]).unwrap_err();
        assert!(e.to_string().contains("clusters[0, 2] = -inf"));
    }
}
