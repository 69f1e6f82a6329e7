//! Deserialization helpers that accept what real servers send instead of what the spec says.
//!
//! Servers send `null` where a value belongs, floats where integers belong, objects where a
//! JSON string belongs. Each helper maps such input to the value a caller would expect,
//! without failing the whole response.
//!
//! They are visitors rather than "read a `Value`, then convert": a response is parsed once,
//! straight into its fields, with no intermediate tree and no copy of borrowed strings. The
//! same goes for the types that keep unknown fields ([`deserialize_with_extra!`]): serde's
//! `#[serde(flatten)]` would buffer every field of such a struct (each string copied twice)
//! before reading it, which made the flattened types most of a response's parse time.

use std::fmt;

use serde::de::{
    value::MapAccessDeserializer, value::SeqAccessDeserializer, Deserialize, Deserializer,
    IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::Value;

/// `null` (or a missing field, with `#[serde(default)]`) becomes `T::default()`.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A non-negative integer sent as an integer, a float, a numeric string or `null` (→ 0).
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(d.deserialize_any(NumberVisitor)?.unwrap_or(0))
}

/// Like [`lenient_u64`] for `u32` fields (indices); out-of-range values become 0.
pub(crate) fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(lenient_opt_u32(d)?.unwrap_or(0))
}

/// An optional `u32` that may be `null`, a float or a string.
pub(crate) fn lenient_opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(d.deserialize_any(NumberVisitor)?
        .and_then(|n| u32::try_from(n).ok()))
}

/// Reads any JSON value as a non-negative integer if it is one (an integer, a non-negative
/// float truncated, a numeric string), `None` otherwise. Arrays and objects are skipped.
struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number")
    }
    fn visit_u64<E>(self, n: u64) -> Result<Option<u64>, E> {
        Ok(Some(n))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Option<u64>, E> {
        Ok(u64::try_from(n).ok())
    }
    fn visit_f64<E>(self, f: f64) -> Result<Option<u64>, E> {
        Ok((f >= 0.0).then_some(f as u64))
    }
    fn visit_str<E>(self, s: &str) -> Result<Option<u64>, E> {
        Ok(s.trim().parse().ok())
    }
    fn visit_bool<E>(self, _: bool) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<u64>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<u64>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// Function-call arguments: a JSON string as the spec says, or (some local servers) the
/// arguments object itself, which is turned back into its JSON text. `null` → `""`.
pub(crate) fn arguments_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(d.deserialize_any(ArgumentsVisitor)?.unwrap_or_default())
}

/// Optional arguments for stream deltas; same rules as [`arguments_string`], but keeps
/// "absent or null" distinguishable from an empty string.
pub(crate) fn opt_arguments_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    d.deserialize_any(ArgumentsVisitor)
}

/// A string as it is; `null` as `None`; any other value as its JSON text.
struct ArgumentsVisitor;

impl<'de> Visitor<'de> for ArgumentsVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("function arguments")
    }
    fn visit_str<E>(self, s: &str) -> Result<Option<String>, E> {
        Ok(Some(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Option<String>, E> {
        Ok(Some(s))
    }
    fn visit_unit<E>(self) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Option<String>, E> {
        Ok(Some(Value::from(b).to_string()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Option<String>, E> {
        Ok(Some(Value::from(n).to_string()))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Option<String>, E> {
        Ok(Some(Value::from(n).to_string()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Option<String>, E> {
        Ok(Some(Value::from(n).to_string()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<String>, A::Error> {
        Ok(Some(
            Value::deserialize(SeqAccessDeserializer::new(seq))?.to_string(),
        ))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<String>, A::Error> {
        Ok(Some(
            Value::deserialize(MapAccessDeserializer::new(map))?.to_string(),
        ))
    }
}

pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A string that borrows from the input when it can (no escapes), for keys and enum tags
/// that are only compared. (serde's own `Cow<str>` always copies.)
pub(crate) enum Text<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Text<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Owned(s) => s,
        }
    }

    pub(crate) fn into_string(self) -> String {
        match self {
            Text::Borrowed(s) => s.to_owned(),
            Text::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text::Borrowed(s))
            }
            fn visit_str<E>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text::Owned(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text::Owned(s))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

/// Field readers for [`deserialize_with_extra!`]: each reads one field's value the way the
/// field's `#[serde(deserialize_with = …)]` would.
pub(crate) mod read {
    use super::*;

    /// `T` as it deserializes itself.
    pub(crate) struct Plain<T>(pub T);
    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Plain<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            T::deserialize(d).map(Plain)
        }
    }

    /// [`null_default`].
    pub(crate) struct NullDefault<T>(pub T);
    impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for NullDefault<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            null_default(d).map(NullDefault)
        }
    }

    /// [`lenient_u64`].
    pub(crate) struct U64(pub u64);
    impl<'de> Deserialize<'de> for U64 {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            lenient_u64(d).map(U64)
        }
    }

    /// An optional label (`service_tier`, `obfuscation`): a string as it is, `null` as
    /// `None`, any other value as its JSON text, so an odd value neither fails the answer
    /// nor disappears.
    pub(crate) struct OptText(pub Option<String>);
    impl<'de> Deserialize<'de> for OptText {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            opt_arguments_string(d).map(OptText)
        }
    }

    /// Any value, `null` included, kept as sent (so a `null` is written back as `null`).
    pub(crate) struct Kept(pub Option<Value>);
    impl<'de> Deserialize<'de> for Kept {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Value::deserialize(d).map(|v| Kept(Some(v)))
        }
    }

    /// An optional count: a number as [`lenient_u64`] reads it, `None` for `null` or for
    /// anything that is not a non-negative number.
    pub(crate) struct OptU64(pub Option<u64>);
    impl<'de> Deserialize<'de> for OptU64 {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(NumberVisitor).map(OptU64)
        }
    }

    /// An object read as `T`; `null`, or a value of another kind (a server's odd
    /// placeholder such as `[]` or `""`), as `None` rather than a failed response.
    pub(crate) struct ObjectOrNone<T>(pub Option<T>);
    impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOrNone<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct ObjectVisitor<T>(std::marker::PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
                type Value = Option<T>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object or null")
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<T>, A::Error> {
                    T::deserialize(MapAccessDeserializer::new(map)).map(Some)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<T>, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(None)
                }
                fn visit_unit<E>(self) -> Result<Option<T>, E> {
                    Ok(None)
                }
                fn visit_none<E>(self) -> Result<Option<T>, E> {
                    Ok(None)
                }
                fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
                    d.deserialize_any(self)
                }
                fn visit_bool<E>(self, _: bool) -> Result<Option<T>, E> {
                    Ok(None)
                }
                fn visit_u64<E>(self, _: u64) -> Result<Option<T>, E> {
                    Ok(None)
                }
                fn visit_i64<E>(self, _: i64) -> Result<Option<T>, E> {
                    Ok(None)
                }
                fn visit_f64<E>(self, _: f64) -> Result<Option<T>, E> {
                    Ok(None)
                }
                fn visit_str<E>(self, _: &str) -> Result<Option<T>, E> {
                    Ok(None)
                }
            }
            d.deserialize_any(ObjectVisitor(std::marker::PhantomData))
                .map(ObjectOrNone)
        }
    }

    /// [`lenient_u32`].
    pub(crate) struct U32(pub u32);
    impl<'de> Deserialize<'de> for U32 {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            lenient_u32(d).map(U32)
        }
    }
}

/// Implements `Deserialize` for a struct whose listed fields are read by name and whose other
/// fields all land in its `extra` map — what `#[serde(flatten)] extra: Map<String, Value>`
/// does, without buffering the whole object first (see the module docs).
///
/// ```text
/// deserialize_with_extra!(Type, "what it is", extra, {
///     field: "wire_name" => Reader<FieldType>, or default_expression;
/// });
/// ```
/// `Reader` is one of [`read`]'s wrappers; the expression gives the value of a missing field.
/// As with the derive, a field given twice is an error and unknown fields keep their order.
macro_rules! deserialize_with_extra {
    ($ty:ident, $what:literal, $extra:ident, {
        $( $field:ident : $wire:literal => $reader:ty, or $default:expr; )*
    } $(, not on the wire: $( $hidden:ident ),* )?) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct ExtraVisitor;
                impl<'de> serde::de::Visitor<'de> for ExtraVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$ty, A::Error> {
                        $( let mut $field = None; )*
                        let mut $extra = serde_json::Map::new();
                        while let Some(key) =
                            map.next_key::<$crate::types::lenient::Text<'de>>()?
                        {
                            match key.as_str() {
                                $(
                                    $wire => {
                                        if $field.is_some() {
                                            return Err(
                                                <A::Error as serde::de::Error>::duplicate_field(
                                                    $wire,
                                                ),
                                            );
                                        }
                                        $field = Some(map.next_value::<$reader>()?.0);
                                    }
                                )*
                                _ => {
                                    let value = map.next_value::<serde_json::Value>()?;
                                    $extra.insert(key.into_string(), value);
                                }
                            }
                        }
                        Ok($ty {
                            $( $field: $field.unwrap_or_else(|| $default), )*
                            $extra,
                            $( $( $hidden: Default::default(), )* )?
                        })
                    }
                }
                d.deserialize_map(ExtraVisitor)
            }
        }
    };
}
pub(crate) use deserialize_with_extra;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(serde::Deserialize)]
    struct Numbers {
        #[serde(deserialize_with = "lenient_u64")]
        a: u64,
        #[serde(deserialize_with = "lenient_u32")]
        b: u32,
        #[serde(deserialize_with = "lenient_opt_u32")]
        c: Option<u32>,
    }

    fn numbers(v: Value) -> (u64, u32, Option<u32>) {
        let n: Numbers = serde_json::from_value(json!({"a": v, "b": v, "c": v})).unwrap();
        let from_text: Numbers =
            serde_json::from_str(&json!({"a": v, "b": v, "c": v}).to_string()).unwrap();
        assert_eq!((n.a, n.b, n.c), (from_text.a, from_text.b, from_text.c));
        (n.a, n.b, n.c)
    }

    #[test]
    fn numbers_in_every_shape() {
        assert_eq!(numbers(json!(7)), (7, 7, Some(7)));
        assert_eq!(numbers(json!(7.9)), (7, 7, Some(7)));
        assert_eq!(numbers(json!(" 12 ")), (12, 12, Some(12)));
        assert_eq!(numbers(json!(-1)), (0, 0, None));
        assert_eq!(numbers(json!(-1.5)), (0, 0, None));
        assert_eq!(numbers(json!(null)), (0, 0, None));
        assert_eq!(numbers(json!(true)), (0, 0, None));
        assert_eq!(numbers(json!("x")), (0, 0, None));
        assert_eq!(numbers(json!([1, {"a": 2}])), (0, 0, None));
        assert_eq!(numbers(json!({"n": [1]})), (0, 0, None));
        assert_eq!(numbers(json!(5_000_000_000u64)), (5_000_000_000, 0, None));
    }

    #[derive(serde::Deserialize)]
    struct Args {
        #[serde(deserialize_with = "arguments_string")]
        a: String,
        #[serde(deserialize_with = "opt_arguments_string")]
        b: Option<String>,
    }

    #[test]
    fn arguments_in_every_shape() {
        for (v, a, b) in [
            (json!("{\"x\":1}"), "{\"x\":1}", Some("{\"x\":1}")),
            (
                json!({"x": [1, "y"]}),
                "{\"x\":[1,\"y\"]}",
                Some("{\"x\":[1,\"y\"]}"),
            ),
            (json!([1]), "[1]", Some("[1]")),
            (json!(null), "", None),
            (json!(3), "3", Some("3")),
            (json!(1.5), "1.5", Some("1.5")),
            (json!(false), "false", Some("false")),
            (json!(""), "", Some("")),
        ] {
            let text = json!({"a": v, "b": v}).to_string();
            for parsed in [
                serde_json::from_str::<Args>(&text).unwrap(),
                serde_json::from_value::<Args>(json!({"a": v, "b": v})).unwrap(),
            ] {
                assert_eq!(parsed.a, a, "{v}");
                assert_eq!(parsed.b.as_deref(), b, "{v}");
            }
        }
    }
}
