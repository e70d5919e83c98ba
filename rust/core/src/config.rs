//! Validation rules of an `ImageGPTConfig`.
//!
//! The Python layer hands every validated field over as a [`Value`] (the Python object reduced to what
//! the rules need to see) and gets back every [`Violation`] at once, each naming the field, the value
//! and the rule it breaks, and whether transformers refuses that value too ([`Violation::fatal`]): the
//! Python layer raises for those and warns about the rest (values transformers accepts but that cannot
//! build a model), or raises for every violation in strict mode.

use std::fmt;

/// A config field's value as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Python `None` (or JSON `null`).
    None,
    /// A Python `bool` (never accepted where an integer is required).
    Bool(bool),
    /// A Python `int` that fits in i64.
    Int(i64),
    /// A Python `int` that does not fit in i64 (the text is its decimal form).
    BigInt(String),
    /// A Python `float`.
    Float(f64),
    /// A Python `str`.
    Str(String),
    /// A Python `list` or `tuple` (a JSON array).
    List(Vec<Value>),
    /// Anything else: the text is `repr(value)` and the type name.
    Other { repr: String, type_name: String },
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => write!(f, "None"),
            Value::Bool(b) => write!(f, "{}", if *b { "True" } else { "False" }),
            Value::Int(i) => write!(f, "{i}"),
            Value::BigInt(s) => write!(f, "{s}"),
            Value::Float(x) => {
                if x.is_nan() {
                    write!(f, "nan")
                } else if x.is_infinite() {
                    write!(f, "{}", if *x > 0.0 { "inf" } else { "-inf" })
                } else if x.fract() == 0.0 && x.abs() < 1e16 {
                    write!(f, "{x:.1}")
                } else {
                    write!(f, "{x}")
                }
            }
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            Value::Other { repr, type_name } => write!(f, "{repr} (type {type_name})"),
        }
    }
}

impl Value {
    fn type_name(&self) -> &str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Other { type_name, .. } => type_name,
        }
    }
}

/// One broken rule: which field, its value, and what the rule demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub value: String,
    pub rule: String,
    /// True when transformers refuses the value too: a type that transformers 5's strict
    /// `ImageGPTConfig` rejects (at construction and on assignment). False for values
    /// transformers accepts but that cannot build a model (sizes of 0, dropouts outside [0, 1], an
    /// unknown activation, `n_embd` not divisible by `n_head`, integers beyond 64 bits, ...).
    pub fatal: bool,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}", self.field, self.value, self.rule)
    }
}

/// Activation names that transformers 4.57's `ACT2FN` accepts (`activations.py`).
pub const ACTIVATION_FUNCTIONS: &[&str] = &[
    "gelu",
    "gelu_10",
    "gelu_fast",
    "gelu_new",
    "gelu_python",
    "gelu_pytorch_tanh",
    "gelu_python_tanh",
    "gelu_accurate",
    "laplace",
    "leaky_relu",
    "linear",
    "mish",
    "quick_gelu",
    "relu",
    "relu2",
    "relu6",
    "sigmoid",
    "silu",
    "swish",
    "tanh",
    "prelu",
    "xielu",
];

/// What a field must be.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// An int (not a bool) >= 1.
    PositiveInt,
    /// None or an int >= 1.
    OptionalPositiveInt,
    /// A finite int or float in [0, 1].
    Probability,
    /// A finite int or float > 0.
    PositiveFinite,
    /// A finite int or float >= 0.
    NonNegativeFinite,
    /// A bool.
    Bool,
    /// One of [`ACTIVATION_FUNCTIONS`].
    Activation,
    /// None or one of [`PROBLEM_TYPES`].
    ProblemType,
    /// None or a bool.
    OptionalBool,
    /// An int (not a bool) >= 0.
    NonNegativeInt,
    /// None or an int (not a bool): a token id.
    OptionalInt,
    /// None, an int, or a list of ints (not bools): `eos_token_id`.
    OptionalIntOrIntList,
    /// None or a list of strings.
    OptionalStrList,
}

/// The values `PretrainedConfig` accepts for `problem_type` (besides None).
pub const PROBLEM_TYPES: &[&str] = &[
    "regression",
    "single_label_classification",
    "multi_label_classification",
];

/// Typed: transformers 5's `@strict` `ImageGPTConfig` declares the field's type and rejects other
/// types (checked against transformers 5.24), so a type error there is fatal.
const TYPED: bool = true;
const UNTYPED: bool = false;

/// The validated fields of `ImageGPTConfig`, their rules, and whether transformers 5 types them
/// strictly, in signature order.
const FIELD_RULES: &[(&str, Rule, bool)] = &[
    ("vocab_size", Rule::PositiveInt, TYPED),
    ("n_positions", Rule::PositiveInt, TYPED),
    ("n_embd", Rule::PositiveInt, TYPED),
    ("n_layer", Rule::PositiveInt, TYPED),
    ("n_head", Rule::PositiveInt, TYPED),
    ("n_inner", Rule::OptionalPositiveInt, TYPED),
    ("activation_function", Rule::Activation, TYPED),
    ("resid_pdrop", Rule::Probability, TYPED),
    ("embd_pdrop", Rule::Probability, TYPED),
    ("attn_pdrop", Rule::Probability, TYPED),
    ("layer_norm_epsilon", Rule::PositiveFinite, TYPED),
    ("initializer_range", Rule::NonNegativeFinite, TYPED),
    ("scale_attn_weights", Rule::Bool, TYPED),
    ("use_cache", Rule::Bool, TYPED),
    ("tie_word_embeddings", Rule::Bool, TYPED),
    ("scale_attn_by_inverse_layer_idx", Rule::Bool, TYPED),
    ("reorder_and_upcast_attn", Rule::Bool, TYPED),
    // transformers 4.57 refuses other values at construction only (the Python layer raises there), and
    // transformers 5 not at all: a warning on assignment, an error in strict mode.
    ("problem_type", Rule::ProblemType, UNTYPED),
    // PretrainedConfig fields: transformers 5.24 types only add_cross_attention and the pad/bos/eos ids
    // of ImageGPTConfig; the others are checked in strict mode (and warned about) only.
    ("output_hidden_states", Rule::OptionalBool, UNTYPED),
    ("return_dict", Rule::OptionalBool, UNTYPED),
    ("torchscript", Rule::Bool, UNTYPED),
    ("is_encoder_decoder", Rule::Bool, UNTYPED),
    ("is_decoder", Rule::Bool, UNTYPED),
    ("add_cross_attention", Rule::Bool, TYPED),
    ("tie_encoder_decoder", Rule::Bool, UNTYPED),
    ("chunk_size_feed_forward", Rule::NonNegativeInt, UNTYPED),
    ("architectures", Rule::OptionalStrList, UNTYPED),
    ("bos_token_id", Rule::OptionalInt, TYPED),
    ("pad_token_id", Rule::OptionalInt, TYPED),
    ("eos_token_id", Rule::OptionalIntOrIntList, TYPED),
    ("sep_token_id", Rule::OptionalInt, UNTYPED),
    ("decoder_start_token_id", Rule::OptionalInt, UNTYPED),
];

/// Names of the fields that [`validate_imagegpt_config`] checks.
pub fn validated_fields() -> impl Iterator<Item = &'static str> {
    FIELD_RULES.iter().map(|(name, _, _)| *name)
}

/// What kind of rule a value breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Broken {
    /// The value has the wrong type.
    Type,
    /// The type is right but the value cannot build a model.
    Value,
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        Value::BigInt(s) => s.parse::<f64>().ok(),
        _ => None,
    }
}

fn check(rule: Rule, v: &Value) -> Result<(), (String, Broken)> {
    use Broken::{Type, Value as Val};
    let got = v.type_name();
    match rule {
        Rule::PositiveInt | Rule::OptionalPositiveInt => match v {
            Value::None if matches!(rule, Rule::OptionalPositiveInt) => Ok(()),
            Value::Int(i) if *i >= 1 => Ok(()),
            Value::BigInt(_) => Err((
                "must be an integer in [1, 2**63 - 1] (a size beyond 64 bits cannot build a model)"
                    .into(),
                Val,
            )),
            Value::Int(_) => Err(("must be an integer >= 1".into(), Val)),
            _ => Err((
                format!(
                    "must be an integer >= 1{}, got {got}",
                    if matches!(rule, Rule::OptionalPositiveInt) {
                        " or None"
                    } else {
                        ""
                    }
                ),
                Type,
            )),
        },
        Rule::Probability | Rule::PositiveFinite | Rule::NonNegativeFinite => {
            let what = match rule {
                Rule::Probability => "a finite number in [0, 1]",
                Rule::PositiveFinite => "a finite number > 0",
                _ => "a finite number >= 0",
            };
            match as_number(v) {
                None => Err((format!("must be {what}, got {got}"), Type)),
                Some(x) => {
                    let ok = x.is_finite()
                        && match rule {
                            Rule::Probability => (0.0..=1.0).contains(&x),
                            Rule::PositiveFinite => x > 0.0,
                            _ => x >= 0.0,
                        };
                    if ok {
                        Ok(())
                    } else {
                        Err((format!("must be {what}"), Val))
                    }
                }
            }
        }
        Rule::Bool => match v {
            Value::Bool(_) => Ok(()),
            _ => Err((format!("must be a bool (True or False), got {got}"), Type)),
        },
        Rule::Activation => {
            let names = ACTIVATION_FUNCTIONS.join(", ");
            match v {
                Value::Str(s) if ACTIVATION_FUNCTIONS.contains(&s.as_str()) => Ok(()),
                Value::Str(_) => Err((
                    format!("must be one of transformers' activation names: {names}"),
                    Val,
                )),
                _ => Err((
                    format!("must be one of transformers' activation names: {names}, got {got}"),
                    Type,
                )),
            }
        }
        Rule::OptionalBool => match v {
            Value::None | Value::Bool(_) => Ok(()),
            _ => Err((
                format!("must be None or a bool (True or False), got {got}"),
                Type,
            )),
        },
        Rule::NonNegativeInt => match v {
            Value::Int(i) if *i >= 0 => Ok(()),
            Value::BigInt(_) => Err(("must be an integer in [0, 2**63 - 1]".into(), Val)),
            Value::Int(_) => Err(("must be an integer >= 0".into(), Val)),
            _ => Err((format!("must be an integer >= 0, got {got}"), Type)),
        },
        Rule::OptionalInt => match v {
            Value::None | Value::Int(_) | Value::BigInt(_) => Ok(()),
            _ => Err((
                format!("must be None or an integer token id, got {got}"),
                Type,
            )),
        },
        Rule::OptionalIntOrIntList => match v {
            Value::None | Value::Int(_) | Value::BigInt(_) => Ok(()),
            Value::List(items)
                if items
                    .iter()
                    .all(|x| matches!(x, Value::Int(_) | Value::BigInt(_))) =>
            {
                Ok(())
            }
            Value::List(_) => Err((
                "must be None, an integer token id or a list of them; the list holds a non-integer"
                    .into(),
                Type,
            )),
            _ => Err((
                format!("must be None, an integer token id or a list of them, got {got}"),
                Type,
            )),
        },
        Rule::OptionalStrList => match v {
            Value::None => Ok(()),
            Value::List(items) if items.iter().all(|x| matches!(x, Value::Str(_))) => Ok(()),
            Value::List(_) => Err((
                "must be None or a list of class names (strings); the list holds a non-string"
                    .into(),
                Type,
            )),
            _ => Err((
                format!("must be None or a list of class names (strings), got {got}"),
                Type,
            )),
        },
        Rule::ProblemType => match v {
            Value::None => Ok(()),
            Value::Str(s) if PROBLEM_TYPES.contains(&s.as_str()) => Ok(()),
            _ => Err((
                format!("must be None or one of {}", PROBLEM_TYPES.join(", ")),
                Type,
            )),
        },
    }
}

/// Checks every rule of `ImageGPTConfig` on `fields` (name, value) and returns every violation, in
/// field order. Fields that are missing from `fields` are not checked; unknown names are ignored
/// (they are free-form attributes, as in transformers).
pub fn validate_imagegpt_config(fields: &[(String, Value)]) -> Vec<Violation> {
    let get = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let mut out = Vec::new();
    for (name, rule, typed) in FIELD_RULES {
        if let Some(v) = get(name) {
            if let Err((rule_text, broken)) = check(*rule, v) {
                out.push(Violation {
                    field: (*name).to_string(),
                    value: v.to_string(),
                    rule: rule_text,
                    fatal: *typed && broken == Broken::Type,
                });
            }
        }
    }
    // Cross-field rule: the attention heads split the embedding evenly (transformers 4.57 and 5 accept
    // any pair; building the model fails).
    if let (Some(Value::Int(n_embd)), Some(Value::Int(n_head))) = (get("n_embd"), get("n_head")) {
        if *n_embd >= 1 && *n_head >= 1 && n_embd % n_head != 0 {
            out.push(Violation {
                field: "n_embd".into(),
                value: n_embd.to_string(),
                rule: format!("must be divisible by n_head ({n_head})"),
                fatal: false,
            });
        }
    }
    out
}

/// Explains a mismatch between a model config and its preprocessing: the vocabulary holds the
/// clusters plus the start-of-sequence token, and the positions cover every pixel. Impossible
/// preprocessing values (no clusters, an empty image) are reported too.
pub fn check_compatible(
    vocab_size: i64,
    n_positions: i64,
    n_clusters: Option<i64>,
    image_size: Option<(i64, i64)>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(k) = n_clusters {
        if k < 1 {
            out.push(Violation {
                field: "n_clusters".into(),
                value: k.to_string(),
                rule: "must be an integer >= 1".into(),
                fatal: true,
            });
        } else if Some(vocab_size) != k.checked_add(1) {
            out.push(Violation {
                field: "vocab_size".into(),
                value: vocab_size.to_string(),
                rule: format!(
                    "must be n_clusters + 1 = {} + 1 = {} (one token per color cluster plus the start-of-sequence token)",
                    k,
                    i128::from(k) + 1
                ),
                fatal: true,
            });
        }
    }
    if let Some((h, w)) = image_size {
        if h < 1 || w < 1 {
            out.push(Violation {
                field: "image_size".into(),
                value: format!("({h}, {w})"),
                rule: "height and width must be integers >= 1".into(),
                fatal: true,
            });
        } else {
            let pixels = i128::from(h) * i128::from(w);
            if i128::from(n_positions) < pixels {
                out.push(Violation {
                    field: "n_positions".into(),
                    value: n_positions.to_string(),
                    rule: format!(
                        "must be >= height * width = {h} * {w} = {pixels} (one position per pixel)"
                    ),
                    fatal: true,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn official(n_embd: i64, n_head: i64, n_layer: i64) -> Vec<(String, Value)> {
        vec![
            ("vocab_size".into(), Value::Int(513)),
            ("n_positions".into(), Value::Int(1024)),
            ("n_embd".into(), Value::Int(n_embd)),
            ("n_layer".into(), Value::Int(n_layer)),
            ("n_head".into(), Value::Int(n_head)),
            ("n_inner".into(), Value::None),
            (
                "activation_function".into(),
                Value::Str("quick_gelu".into()),
            ),
            ("resid_pdrop".into(), Value::Float(0.1)),
            ("embd_pdrop".into(), Value::Float(0.1)),
            ("attn_pdrop".into(), Value::Float(0.1)),
            ("layer_norm_epsilon".into(), Value::Float(1e-5)),
            ("initializer_range".into(), Value::Float(0.02)),
            ("scale_attn_weights".into(), Value::Bool(true)),
            ("use_cache".into(), Value::Bool(true)),
            ("tie_word_embeddings".into(), Value::Bool(false)),
            ("scale_attn_by_inverse_layer_idx".into(), Value::Bool(false)),
            ("reorder_and_upcast_attn".into(), Value::Bool(false)),
        ]
    }

    fn set(mut f: Vec<(String, Value)>, name: &str, v: Value) -> Vec<(String, Value)> {
        for (n, old) in f.iter_mut() {
            if n == name {
                *old = v.clone();
            }
        }
        f
    }

    #[test]
    fn official_configs_pass() {
        for (e, h, l) in [(512, 8, 24), (1024, 8, 36), (1536, 16, 48)] {
            assert_eq!(validate_imagegpt_config(&official(e, h, l)), vec![]);
        }
    }

    #[test]
    fn bool_is_not_an_int() {
        let v = validate_imagegpt_config(&set(official(512, 8, 24), "n_layer", Value::Bool(true)));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "n_layer");
        assert_eq!(v[0].value, "True");
        assert!(v[0].rule.contains("integer"), "{}", v[0].rule);
    }

    #[test]
    fn every_problem_is_reported() {
        let f = official(500, 8, 24);
        let f = set(f, "resid_pdrop", Value::Float(1.5));
        let f = set(f, "layer_norm_epsilon", Value::Float(0.0));
        let f = set(f, "initializer_range", Value::Float(f64::NAN));
        let f = set(f, "use_cache", Value::Int(1));
        let f = set(f, "activation_function", Value::Str("gelu2".into()));
        let f = set(f, "n_inner", Value::Int(0));
        let v = validate_imagegpt_config(&f);
        let fields: Vec<&str> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "n_inner",
                "activation_function",
                "resid_pdrop",
                "layer_norm_epsilon",
                "initializer_range",
                "use_cache",
                "n_embd"
            ]
        );
        assert_eq!(
            v[2].to_string(),
            "resid_pdrop = 1.5: must be a finite number in [0, 1]"
        );
        assert_eq!(
            v[6].to_string(),
            "n_embd = 500: must be divisible by n_head (8)"
        );
    }

    #[test]
    fn sizes_must_be_positive() {
        for field in ["vocab_size", "n_positions", "n_embd", "n_layer", "n_head"] {
            let v = validate_imagegpt_config(&set(official(512, 8, 24), field, Value::Int(0)));
            assert!(
                v.iter()
                    .any(|x| x.field == field && x.rule.contains(">= 1")),
                "{field}: {v:?}"
            );
        }
    }

    #[test]
    fn ints_are_accepted_as_probabilities() {
        let v = validate_imagegpt_config(&set(official(512, 8, 24), "attn_pdrop", Value::Int(0)));
        assert_eq!(v, vec![]);
    }

    #[test]
    fn compatibility() {
        assert_eq!(
            check_compatible(513, 1024, Some(512), Some((32, 32))),
            vec![]
        );
        let v = check_compatible(512, 1000, Some(512), Some((32, 32)));
        assert_eq!(v.len(), 2);
        assert!(v[0].rule.contains("513"));
        assert!(v[1].rule.contains("1024"));
        // n_positions may exceed the pixel count; the vocabulary must match exactly.
        assert_eq!(
            check_compatible(513, 2048, Some(512), Some((32, 32))),
            vec![]
        );
        assert_eq!(check_compatible(514, 1024, Some(512), None).len(), 1);
    }

    #[test]
    fn compatibility_rejects_impossible_preprocessing() {
        let v = check_compatible(513, 1024, Some(0), Some((0, 32)));
        let fields: Vec<&str> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, vec!["n_clusters", "image_size"]);
        assert_eq!(v[1].value, "(0, 32)");
        // Huge sizes neither overflow nor panic.
        let v = check_compatible(i64::MAX, 1, Some(i64::MAX), Some((i64::MAX, i64::MAX)));
        assert_eq!(v.len(), 2);
        assert!(v[0].rule.contains("9223372036854775808"), "{}", v[0].rule);
    }

    #[test]
    fn pretrained_config_field_types() {
        let ok = [
            ("output_hidden_states", Value::None),
            ("return_dict", Value::Bool(false)),
            ("chunk_size_feed_forward", Value::Int(0)),
            (
                "architectures",
                Value::List(vec![Value::Str("ImageGPTForCausalImageModeling".into())]),
            ),
            ("architectures", Value::None),
            ("pad_token_id", Value::Int(-1)),
            (
                "eos_token_id",
                Value::List(vec![Value::Int(1), Value::Int(2)]),
            ),
            ("eos_token_id", Value::List(vec![])),
            ("decoder_start_token_id", Value::None),
        ];
        for (name, v) in ok {
            assert_eq!(
                validate_imagegpt_config(&[(name.to_string(), v.clone())]),
                vec![],
                "{name} = {v}"
            );
        }
        let bad = [
            ("output_hidden_states", Value::Int(1)),
            ("torchscript", Value::None),
            ("is_decoder", Value::Str("yes".into())),
            ("chunk_size_feed_forward", Value::Int(-1)),
            ("chunk_size_feed_forward", Value::Bool(false)),
            ("architectures", Value::Str("ImageGPTModel".into())),
            ("architectures", Value::List(vec![Value::Int(1)])),
            ("pad_token_id", Value::Bool(true)),
            ("bos_token_id", Value::Float(1.0)),
            (
                "eos_token_id",
                Value::List(vec![Value::Int(1), Value::Bool(true)]),
            ),
            ("sep_token_id", Value::Str("1".into())),
        ];
        for (name, v) in bad {
            let got = validate_imagegpt_config(&[(name.to_string(), v.clone())]);
            assert_eq!(got.len(), 1, "{name} = {v}");
            assert_eq!(got[0].field, name);
            assert_eq!(got[0].value, v.to_string());
        }
        assert_eq!(
            Value::List(vec![Value::Int(1), Value::Str("a".into())]).to_string(),
            "[1, \"a\"]"
        );
    }

    #[test]
    fn fatal_only_for_what_transformers_refuses() {
        let not_fatal = [
            ("n_embd", Value::Int(0)),
            ("resid_pdrop", Value::Float(1.5)),
            ("layer_norm_epsilon", Value::Float(f64::NAN)),
            ("activation_function", Value::Str("nope".into())),
            (
                "n_head",
                Value::BigInt("1000000000000000000000000000000".into()),
            ),
            ("is_decoder", Value::Str("yes".into())),
            ("chunk_size_feed_forward", Value::Float(1.5)),
            ("architectures", Value::Str("ImageGPTModel".into())),
            ("sep_token_id", Value::Bool(false)),
            ("problem_type", Value::Str("ranking".into())),
        ];
        for (name, v) in not_fatal {
            let got = validate_imagegpt_config(&[(name.to_string(), v.clone())]);
            assert_eq!(got.len(), 1, "{name} = {v}");
            assert!(!got[0].fatal, "{name} = {v}");
        }
        let fatal = [
            ("n_layer", Value::Str("24".into())),
            ("n_embd", Value::Float(512.0)),
            ("use_cache", Value::Int(1)),
            ("resid_pdrop", Value::None),
            ("n_inner", Value::Float(2048.0)),
            ("activation_function", Value::Int(1)),
            ("eos_token_id", Value::Float(2.0)),
            ("add_cross_attention", Value::Int(0)),
        ];
        for (name, v) in fatal {
            let got = validate_imagegpt_config(&[(name.to_string(), v.clone())]);
            assert_eq!(got.len(), 1, "{name} = {v}");
            assert!(got[0].fatal, "{name} = {v}");
        }
        let divisibility = validate_imagegpt_config(&official(37, 8, 24));
        assert_eq!(divisibility.len(), 1);
        assert!(!divisibility[0].fatal);
    }

    #[test]
    fn integers_beyond_64_bits_are_reported() {
        let big = Value::BigInt("1000000000000000000000000000000".into());
        let v = validate_imagegpt_config(&set(official(512, 8, 24), "n_head", big));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].field, "n_head");
        assert!(v[0].rule.contains("2**63"), "{}", v[0].rule);
        let f = set(
            official(512, 3, 24),
            "n_embd",
            Value::BigInt("18446744073709551616".into()),
        );
        let fields: Vec<String> = validate_imagegpt_config(&f)
            .into_iter()
            .map(|x| x.field)
            .collect();
        assert_eq!(fields, vec!["n_embd"]);
        let v = validate_imagegpt_config(&[(
            "chunk_size_feed_forward".to_string(),
            Value::BigInt("9".repeat(400)),
        )]);
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn problem_type_values() {
        for ok in [
            Value::None,
            Value::Str("regression".into()),
            Value::Str("multi_label_classification".into()),
        ] {
            let f = vec![("problem_type".to_string(), ok)];
            assert_eq!(validate_imagegpt_config(&f), vec![]);
        }
        for bad in [Value::Str("classification".into()), Value::Int(1)] {
            let v = validate_imagegpt_config(&[("problem_type".to_string(), bad)]);
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].field, "problem_type");
            assert!(
                v[0].rule.contains("single_label_classification"),
                "{}",
                v[0].rule
            );
        }
    }

    #[test]
    fn every_activation_name_is_accepted_and_others_rejected() {
        for name in ACTIVATION_FUNCTIONS {
            let f = vec![(
                "activation_function".to_string(),
                Value::Str((*name).into()),
            )];
            assert_eq!(validate_imagegpt_config(&f), vec![], "{name}");
        }
        for bad in [
            Value::Str("GELU".into()),
            Value::Str("".into()),
            Value::None,
            Value::Int(3),
        ] {
            let f = vec![("activation_function".to_string(), bad)];
            assert_eq!(validate_imagegpt_config(&f).len(), 1);
        }
    }

    #[test]
    fn non_finite_and_wrong_types_are_rejected() {
        for (field, bad) in [
            ("embd_pdrop", Value::Float(f64::INFINITY)),
            ("attn_pdrop", Value::Float(-0.1)),
            ("layer_norm_epsilon", Value::Float(-1e-5)),
            ("layer_norm_epsilon", Value::Str("1e-5".into())),
            ("initializer_range", Value::Float(-0.02)),
            ("initializer_range", Value::Bool(true)),
            ("n_inner", Value::Float(2048.0)),
            ("vocab_size", Value::BigInt("-99999999999999999999".into())),
            ("scale_attn_weights", Value::None),
        ] {
            let v = validate_imagegpt_config(&set(official(512, 8, 24), field, bad.clone()));
            assert_eq!(v.len(), 1, "{field} = {bad:?}: {v:?}");
            assert_eq!(v[0].field, field);
            assert_eq!(v[0].value, bad.to_string());
        }
    }
}
