//! Reading a request body's fields the way Toss validates them: a missing required field, a
//! mistyped one (a string amount, a fractional number) or an unknown one is `400 INVALID_REQUEST`
//! naming the field.

use serde_json::{Map, Value};

use crate::{invalid, Answer};

/// A string field; `null` counts as absent for an optional one.
pub(crate) fn text<'a>(
    m: &'a Map<String, Value>,
    k: &str,
    required: bool,
) -> Result<Option<&'a str>, Answer> {
    match m.get(k) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        _ => Err(invalid(k)),
    }
}

/// An integer field; `null` counts as absent for an optional one.
pub(crate) fn integer(
    m: &Map<String, Value>,
    k: &str,
    required: bool,
) -> Result<Option<i64>, Answer> {
    match m.get(k) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| invalid(k)),
        _ => Err(invalid(k)),
    }
}

/// Refuses the first field not in `known`.
pub(crate) fn only_known(m: &Map<String, Value>, known: &[&str]) -> Result<(), Answer> {
    match m.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(invalid(k)),
        None => Ok(()),
    }
}
