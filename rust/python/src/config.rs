//! Bindings of `imagegpt_core::config`: Python values in, violations out.

use imagegpt_core::config::{self, Value, Violation};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::threads::guard;

/// Reduces a Python object to the [`Value`] the rules look at. A list or tuple becomes a
/// [`Value::List`] of its items; lists nested inside it are not descended into (no rule needs them,
/// and it keeps the recursion one level deep whatever the input).
fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_value_at(obj, true)
}

fn to_value_at(obj: &Bound<'_, PyAny>, top: bool) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::None);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        // Lossy: a lone surrogate (valid in a Python str, not in UTF-8) is shown as U+FFFD.
        return Ok(Value::Str(s.to_string_lossy().into_owned()));
    }
    if obj.is_instance_of::<PyInt>() {
        return Ok(match obj.extract::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::BigInt(big_int_text(obj)?),
        });
    }
    if top && (obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>()) {
        let mut items = Vec::new();
        for item in obj.try_iter()? {
            items.push(to_value_at(&item?, false)?);
        }
        return Ok(Value::List(items));
    }
    let type_name = obj.get_type().name()?.to_string_lossy().into_owned();
    let repr = match obj.repr() {
        Ok(r) => r.to_string_lossy().into_owned(),
        Err(_) => format!("<{type_name} object>"),
    };
    Ok(Value::Other { repr, type_name })
}

/// The decimal text of an int beyond i64, or (over Python's int digit limit, where `str()` raises) its
/// sign and bit length: the rules only need to know it is an int too large for 64 bits.
fn big_int_text(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.str() {
        return Ok(s.to_string_lossy().into_owned());
    }
    let negative = obj.lt(0)?;
    let bits: u64 = obj.call_method0("bit_length")?.extract()?;
    Ok(format!(
        "{}<an integer of {bits} bits>",
        if negative { "-" } else { "" }
    ))
}

fn to_tuples(v: Vec<Violation>) -> Vec<(String, String, String)> {
    v.into_iter().map(|x| (x.field, x.value, x.rule)).collect()
}

/// Checks the validated fields present in `fields` (a dict) and returns every violation as
/// `(field, value, rule, fatal)` tuples, in field order; an empty list when the config is valid.
/// `fatal` is true when transformers refuses the value too (see `Violation::fatal`).
#[pyfunction]
fn config_violations(fields: &Bound<'_, PyDict>) -> PyResult<Vec<(String, String, String, bool)>> {
    guard("config_violations", || {
        let mut values = Vec::with_capacity(fields.len());
        for name in config::validated_fields() {
            if let Some(v) = fields.get_item(name)? {
                values.push((name.to_owned(), to_value(&v)?));
            }
        }
        Ok(config::validate_imagegpt_config(&values)
            .into_iter()
            .map(|x| (x.field, x.value, x.rule, x.fatal))
            .collect())
    })
}

/// The names of the fields `config_violations` checks.
#[pyfunction]
fn validated_config_fields() -> PyResult<Vec<&'static str>> {
    guard("validated_config_fields", || {
        Ok(config::validated_fields().collect())
    })
}

/// The activation names the config accepts (transformers' `ACT2FN` keys).
#[pyfunction]
fn activation_functions() -> PyResult<Vec<&'static str>> {
    guard("activation_functions", || {
        Ok(config::ACTIVATION_FUNCTIONS.to_vec())
    })
}

/// Violations of the model/preprocessing contract (see `imagegpt_rs.check_compatible`).
#[pyfunction]
#[pyo3(signature = (vocab_size, n_positions, n_clusters=None, image_size=None))]
fn compatibility_violations(
    vocab_size: i64,
    n_positions: i64,
    n_clusters: Option<i64>,
    image_size: Option<(i64, i64)>,
) -> PyResult<Vec<(String, String, String)>> {
    guard("compatibility_violations", || {
        Ok(to_tuples(config::check_compatible(
            vocab_size,
            n_positions,
            n_clusters,
            image_size,
        )))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(config_violations, m)?)?;
    m.add_function(wrap_pyfunction!(validated_config_fields, m)?)?;
    m.add_function(wrap_pyfunction!(activation_functions, m)?)?;
    m.add_function(wrap_pyfunction!(compatibility_violations, m)?)?;
    Ok(())
}
