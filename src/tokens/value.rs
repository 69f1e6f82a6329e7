//! JSON values as CAMEL sees them (the Python objects `json.loads` makes), in field
//! order.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Deeper values are refused (serde_json's own parser stops at 128 too).
pub(super) const MAX_DEPTH: usize = 128;

/// A JSON value that keeps object keys in order and borrows strings where it can.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
    List(Vec<Node<'a>>),
    /// Keys are unique; a repeated key keeps its first position and its last value
    /// (what Python's `json.loads` builds).
    Dict(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// `None` when nested deeper than [`MAX_DEPTH`].
    pub(super) fn from_value(value: &'a Value, depth: usize) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        Some(match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Node::U64(u)
                } else if let Some(i) = n.as_i64() {
                    Node::I64(i)
                } else {
                    Node::F64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Node::Str(Cow::Borrowed(s)),
            Value::Array(items) => Node::List(
                items
                    .iter()
                    .map(|v| Node::from_value(v, depth + 1))
                    .collect::<Option<_>>()?,
            ),
            Value::Object(map) => Node::Dict(
                map.iter()
                    .map(|(k, v)| {
                        Some((Cow::Borrowed(k.as_str()), Node::from_value(v, depth + 1)?))
                    })
                    .collect::<Option<_>>()?,
            ),
        })
    }
}

pub(super) fn get<'n, 'a>(
    fields: &'n [(Cow<'a, str>, Node<'a>)],
    key: &str,
) -> Option<&'n Node<'a>> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Node<'de>, E> {
        Ok(Node::I64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Node<'de>, E> {
        Ok(Node::U64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Node<'de>, E> {
        Ok(Node::F64(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Node<'de>, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Node<'de>, A::Error> {
        let mut fields: Vec<(Cow<'de, str>, Node<'de>)> = Vec::new();
        // Index for long objects, so repeated keys stay cheap to find.
        let mut index: Option<HashMap<Cow<'de, str>, usize>> = None;
        while let Some(Key(key)) = map.next_key()? {
            let value: Node<'de> = map.next_value()?;
            let existing = match &index {
                Some(idx) => idx.get(&key).copied(),
                None => fields.iter().position(|(k, _)| *k == key),
            };
            match existing.and_then(|i| fields.get_mut(i)) {
                Some(slot) => slot.1 = value,
                None => {
                    if let Some(idx) = &mut index {
                        idx.insert(key.clone(), fields.len());
                    }
                    fields.push((key, value));
                    if index.is_none() && fields.len() > 16 {
                        index = Some(
                            fields
                                .iter()
                                .enumerate()
                                .map(|(i, (k, _))| (k.clone(), i))
                                .collect(),
                        );
                    }
                }
            }
        }
        Ok(Node::Dict(fields))
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(
                self,
                v: &'de str,
            ) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::pyrepr::py_repr_to_string;

    #[test]
    fn duplicate_keys_keep_first_position_last_value() {
        let node: Node<'_> = serde_json::from_str(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert_eq!(py_repr_to_string(&node), "{'a': 3, 'b': 2}");
        let many: String = (0..40).map(|i| format!("\"k{i}\": {i}, ")).collect();
        let text = format!("{{{many}\"k3\": \"x\"}}");
        let node: Node<'_> = serde_json::from_str(&text).unwrap();
        let Node::Dict(fields) = node else { panic!() };
        assert_eq!(fields.len(), 40);
        assert_eq!(fields[3].1, Node::Str("x".into()));
    }
}
