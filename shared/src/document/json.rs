//! Renders a document (or the document at some heads) as JSON, which the model's types
//! deserialise from. Text becomes a string, timestamps RFC 3339 strings.

use automerge::hydrate::Value as Hydrated;
use automerge::{AutoCommit, ChangeHash, ROOT, ReadDoc, ScalarValue};
use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Value};

use super::DocumentError;

/// The whole document at `heads`, or now.
pub(super) fn render(
    doc: &AutoCommit,
    heads: Option<&[ChangeHash]>,
) -> Result<Value, DocumentError> {
    Ok(to_json(&doc.hydrate(ROOT, heads)?))
}

/// The root fields `keys` of the document at `heads`, or now, leaving the rest (the body,
/// most of a record) unread.
pub(super) fn render_keys(
    doc: &AutoCommit,
    heads: Option<&[ChangeHash]>,
    keys: &[&str],
) -> Result<Value, DocumentError> {
    let mut out = Map::new();
    for key in keys {
        let value = match heads {
            Some(heads) => doc.get_at(ROOT, *key, heads)?,
            None => doc.get(ROOT, *key)?,
        };
        let json = match value {
            Some((automerge::Value::Object(_), obj)) => to_json(&doc.hydrate(obj, heads)?),
            Some((automerge::Value::Scalar(scalar), _)) => scalar_to_json(&scalar),
            None => continue,
        };
        out.insert((*key).to_owned(), json);
    }
    Ok(Value::Object(out))
}

fn to_json(value: &Hydrated) -> Value {
    match value {
        Hydrated::Map(map) => Value::Object(
            map.iter()
                .map(|(key, entry)| (key.clone(), to_json(&entry.value)))
                .collect::<Map<_, _>>(),
        ),
        Hydrated::List(list) => {
            Value::Array(list.iter().map(|item| to_json(&item.value)).collect())
        }
        Hydrated::Text(text) => Value::String(text.to_string()),
        Hydrated::Scalar(scalar) => scalar_to_json(scalar),
    }
}

fn scalar_to_json(scalar: &ScalarValue) -> Value {
    match scalar {
        ScalarValue::Str(text) => Value::String(text.to_string()),
        ScalarValue::Int(number) => Value::from(*number),
        ScalarValue::Uint(number) => Value::from(*number),
        ScalarValue::F64(number) => Value::from(*number),
        ScalarValue::Counter(counter) => Value::from(i64::from(counter)),
        ScalarValue::Timestamp(millis) => DateTime::from_timestamp_millis(*millis)
            .map(|time| Value::String(time.to_rfc3339_opts(SecondsFormat::Millis, true)))
            .unwrap_or(Value::Null),
        ScalarValue::Boolean(flag) => Value::Bool(*flag),
        ScalarValue::Bytes(bytes) => Value::String(hex::encode(bytes)),
        ScalarValue::Unknown { .. } | ScalarValue::Null => Value::Null,
    }
}

/// Appends every string under `value` to `out`, one per line. Ids are left out: they are
/// not words anybody searches for.
pub(super) fn collect_strings(value: &Value, out: &mut String) {
    match value {
        Value::String(text) if !text.is_empty() => {
            out.push_str(text);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, out)),
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| key.as_str() != "id")
            .for_each(|(_, item)| collect_strings(item, out)),
        _ => {}
    }
}
