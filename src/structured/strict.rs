//! The OpenAI strict-mode JSON-schema transform.
//!
//! A response format sent with `"strict": true` is only accepted when the schema stays inside
//! the subset strict mode supports, and schemars writes ordinary JSON Schema. The transform
//! below is a port of openai-python's `to_strict_json_schema`, which is what CAMEL relies on,
//! plus the fixes strict mode needs for schemars 1.x output (`oneOf` for tagged enums, integer
//! `format`s such as `uint32`, `$ref` with sibling keywords, `$schema`).
//!
//! It never narrows what the caller's type accepts on its own initiative: when a schema cannot
//! be made strict without changing its meaning (an explicit map-typed `additionalProperties`,
//! an `allOf` whose member contradicts its parent, a recursive `$ref` with siblings), it is
//! left as it is, the server refuses it with HTTP 400, and the caller's json_object fallback
//! (docs/SPEC.md §2.5) takes over.

use serde_json::{Map, Value};

/// How deep the transform follows nested schemas. Schemas of Rust types are far shallower;
/// this only keeps a hand-built, absurdly deep `Value` from overflowing the stack.
const MAX_DEPTH: usize = 256;

/// The `format` values strict mode accepts; anything else (schemars's `uint32`, `int64`,
/// `double`, `float`…) makes the server refuse the whole schema.
const SUPPORTED_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

/// Keywords that describe rather than constrain: when an `allOf` member and its parent
/// disagree on one of these, the parent's value wins because the parent is the use site
/// (a field's own doc comment beats the doc comment of the field's type).
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$comment",
];

/// Keywords whose value is one subschema.
const SUBSCHEMA: &[&str] = &[
    "additionalProperties",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "propertyNames",
];

/// Keywords whose value is an array of subschemas.
const SUBSCHEMA_ARRAYS: &[&str] = &["anyOf", "oneOf", "allOf", "prefixItems"];

/// Keywords whose value maps names to subschemas.
const SUBSCHEMA_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "dependentSchemas",
    "$defs",
    "definitions",
];

/// Rewrite `schema` into the form OpenAI's strict structured outputs accept.
///
/// Recursively (through `properties`, `items`, `prefixItems`, `anyOf`/`oneOf`/`allOf`,
/// `$defs`/`definitions` and schema-valued `additionalProperties`):
/// - an object schema (`type` `"object"`, or with `properties`) gets `required` listing every
///   property in property order, and `additionalProperties: false` when it had none. An
///   explicit `additionalProperties` (a map type) is kept: forcing `false` would silently turn
///   the map into an always-empty object, while keeping it makes the server refuse the schema
///   and the json_object fallback handle the request.
/// - an `allOf` with one member is merged into its parent. Annotations present on both keep
///   the parent's value (the use site is more specific, and the same rule applies to `$ref`
///   siblings); if a constraining keyword differs, merging would drop a constraint, so the
///   `allOf` is kept instead.
/// - `"default": null` is dropped (every property is required, so a null default says nothing).
/// - a local `$ref` (`#/$defs/X`, `#/definitions/X`, any `#` pointer) with sibling keywords is
///   replaced by the referenced schema with the siblings merged over it; a `$ref` that refers
///   to a schema it is itself part of (recursion) cannot be inlined and is left as it is, as
///   are unresolvable ones. A `$ref` alone is valid strict mode and is kept.
/// - `oneOf` becomes `anyOf` (strict mode has no `oneOf`; schemars uses it for enums whose
///   variants a tag already tells apart, so nothing is lost), unless the schema already has an
///   `anyOf`.
/// - `format`s strict mode does not know are dropped; `date-time`, `date`, `time`,
///   `duration`, `email`, `hostname`, `ipv4`, `ipv6` and `uuid` stay.
/// - the root's `$schema` is removed.
///
/// Property order is the order of the `serde_json::Map`, i.e. alphabetical unless
/// serde_json's `preserve_order` feature is on; models write keys in schema order, so that
/// feature is worth enabling when field order matters.
pub fn to_strict_schema(schema: &Value) -> Value {
    let mut transform = Transform {
        root: schema,
        // The root is being transformed for the whole run, so `"$ref": "#"` is recursive.
        in_progress: vec![String::new()],
    };
    match transform.schema(schema, 0, true) {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(key, _)| key != "$schema")
                .collect(),
        ),
        other => other,
    }
}

/// Make a type name valid for the API's `json_schema.name`: ASCII letters, digits, `_` and
/// `-` only (anything else becomes `_`), at most 64 characters, and `response` when empty.
///
/// Rust type names are not valid as they are: generics (`Wrapper<Weather>` becomes
/// `Wrapper_Weather_`), paths (`a::B`) and non-ASCII identifiers all are refused by the API.
pub fn schema_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() {
        "response".to_owned()
    } else {
        name
    }
}

struct Transform<'a> {
    /// The caller's schema, against which `$ref`s resolve.
    root: &'a Value,
    /// JSON pointers (percent-decoded, without the `#`) of the schemas being transformed, for
    /// `$ref`s: one pointing at any of them is recursive and inlining it would never end.
    in_progress: Vec<String>,
}

impl Transform<'_> {
    fn schema(&mut self, schema: &Value, depth: usize, root: bool) -> Value {
        let Value::Object(map) = schema else {
            return schema.clone();
        };
        if depth > MAX_DEPTH {
            return schema.clone();
        }
        let mut map = map.clone();
        while let Some(merged) = merge_single_all_of(&map) {
            map = merged;
        }
        // Before the `$ref` check, so that a null default alone does not count as a sibling.
        if map.get("default").is_some_and(Value::is_null) {
            map = map
                .into_iter()
                .filter(|(key, _)| key != "default")
                .collect();
        }
        if map.len() > 1 {
            if let Some((pointer, target)) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|reference| self.resolve(reference))
            {
                let mut inlined = target.clone();
                for (key, value) in map {
                    if key != "$ref" {
                        inlined.insert(key, value);
                    }
                }
                self.in_progress.push(pointer);
                let out = self.schema(&Value::Object(inlined), depth + 1, root);
                self.in_progress.pop();
                return out;
            }
        }
        self.keywords(map, depth, root)
    }

    /// Transform the subschemas of an object schema whose own `allOf`/`$ref` are settled.
    fn keywords(&mut self, map: Map<String, Value>, depth: usize, root: bool) -> Value {
        let object = is_object_schema(&map);
        // The old list is replaced by every property name, at the end.
        let new_required = object && map.get("properties").is_some_and(Value::is_object);
        let has_any_of = map.contains_key("anyOf");
        let mut out = Map::new();
        for (key, value) in map {
            let name = key.as_str();
            let value = match (name, value) {
                ("format", Value::String(format)) if SUPPORTED_FORMATS.contains(&&*format) => {
                    Value::String(format)
                }
                ("format", _) => continue,
                ("required", _) if new_required => continue,
                ("items", items @ Value::Object(_)) => self.schema(&items, depth + 1, false),
                ("items", Value::Array(items)) => self.each(&items, depth),
                (_, Value::Array(items)) if SUBSCHEMA_ARRAYS.contains(&name) => {
                    self.each(&items, depth)
                }
                (_, sub @ Value::Object(_)) if SUBSCHEMA.contains(&name) => {
                    self.schema(&sub, depth + 1, false)
                }
                (_, Value::Object(subs)) if SUBSCHEMA_MAPS.contains(&name) => {
                    let defs = root && (name == "$defs" || name == "definitions");
                    let mut transformed = Map::new();
                    for (sub_name, sub) in subs {
                        if defs {
                            self.in_progress
                                .push(format!("/{name}/{}", escape_pointer(&sub_name)));
                        }
                        let sub = self.schema(&sub, depth + 1, false);
                        if defs {
                            self.in_progress.pop();
                        }
                        transformed.insert(sub_name, sub);
                    }
                    Value::Object(transformed)
                }
                (_, value) => value,
            };
            let key = if name == "oneOf" && !has_any_of {
                "anyOf".to_owned()
            } else {
                key
            };
            out.insert(key, value);
        }
        if new_required {
            if let Some(Value::Object(properties)) = out.get("properties") {
                let required = properties.keys().cloned().map(Value::String).collect();
                out.insert("required".to_owned(), Value::Array(required));
            }
        }
        if object && !out.contains_key("additionalProperties") {
            out.insert("additionalProperties".to_owned(), Value::Bool(false));
        }
        Value::Object(out)
    }

    fn each(&mut self, schemas: &[Value], depth: usize) -> Value {
        Value::Array(
            schemas
                .iter()
                .map(|schema| self.schema(schema, depth + 1, false))
                .collect(),
        )
    }

    /// The pointer and target of a local `$ref` that may be inlined: it resolves to an
    /// object schema that is not being transformed already.
    fn resolve(&self, reference: &str) -> Option<(String, &Map<String, Value>)> {
        let pointer = percent_decode(reference.strip_prefix('#')?)?;
        if self.in_progress.contains(&pointer) {
            return None;
        }
        let target = self.root.pointer(&pointer)?.as_object()?;
        Some((pointer, target))
    }
}

fn is_object_schema(map: &Map<String, Value>) -> bool {
    let typed_object = match map.get("type") {
        Some(Value::String(kind)) => kind == "object",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "object"),
        _ => false,
    };
    typed_object || map.get("properties").is_some_and(Value::is_object)
}

/// The parent with its single `allOf` member merged in, if it has one and they agree.
fn merge_single_all_of(map: &Map<String, Value>) -> Option<Map<String, Value>> {
    let Some(Value::Array(members)) = map.get("allOf") else {
        return None;
    };
    let [Value::Object(member)] = members.as_slice() else {
        return None;
    };
    let conflict = member.iter().any(|(key, value)| {
        key != "allOf"
            && !ANNOTATIONS.contains(&key.as_str())
            && map.get(key).is_some_and(|parent| parent != value)
    });
    if conflict {
        return None;
    }
    let mut merged = Map::new();
    for (key, value) in map {
        if key != "allOf" {
            merged.insert(key.clone(), value.clone());
            continue;
        }
        // The member's keys take the place of the `allOf`, so key order stays readable.
        for (member_key, member_value) in member {
            if member_key == "allOf" || !map.contains_key(member_key) {
                merged.insert(member_key.clone(), member_value.clone());
            }
        }
    }
    Some(merged)
}

/// Escape a `$defs` name as a JSON-pointer segment, to compare with resolved `$ref`s.
fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Decode `%XX` escapes of a URI fragment; `None` if the result is not UTF-8.
fn percent_decode(fragment: &str) -> Option<String> {
    if !fragment.contains('%') {
        return Some(fragment.to_owned());
    }
    let bytes = fragment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = match (byte, bytes.get(i + 1..i + 3)) {
            (b'%', Some(&[high, low])) => {
                match ((high as char).to_digit(16), (low as char).to_digit(16)) {
                    (Some(high), Some(low)) => Some((high * 16 + low) as u8),
                    _ => None,
                }
            }
            _ => None,
        };
        match escaped {
            Some(decoded_byte) => {
                decoded.push(decoded_byte);
                i += 3;
            }
            None => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests;
