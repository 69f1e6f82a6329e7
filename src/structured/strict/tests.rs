use super::*;
use serde_json::json;

/// schemars 1.x for:
/// ```ignore
/// /// A weather report.
/// struct Weather {
///     /// City name.
///     city: String,
///     conditions: Conditions,          // unit enum
///     forecast: Vec<Day>,
///     humidity: u32,
///     location: Option<Location>,
///     /// When it was observed.
///     #[serde(default)]
///     observed_at: Option<DateTime<Utc>>,
///     /// Where the numbers come from.
///     source: Source,                  // a struct, documented at the field
///     temperature_c: f64,
/// }
/// ```
/// (fields in alphabetical order, so `required` reads the same with and without
/// serde_json's `preserve_order`).
fn weather_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Weather",
        "description": "A weather report.",
        "type": "object",
        "properties": {
            "city": {"description": "City name.", "type": "string"},
            "conditions": {"$ref": "#/$defs/Conditions"},
            "forecast": {"type": "array", "items": {"$ref": "#/$defs/Day"}},
            "humidity": {"type": "integer", "format": "uint32", "minimum": 0},
            "location": {"anyOf": [{"$ref": "#/$defs/Location"}, {"type": "null"}]},
            "observed_at": {
                "description": "When it was observed.",
                "type": ["string", "null"],
                "format": "date-time",
                "default": null
            },
            "source": {"$ref": "#/$defs/Source", "description": "Where the numbers come from."},
            "temperature_c": {"type": "number", "format": "double"}
        },
        "required": ["city", "conditions", "forecast", "humidity", "source", "temperature_c"],
        "$defs": {
            "Conditions": {"type": "string", "enum": ["sunny", "cloudy", "rain"]},
            "Day": {
                "type": "object",
                "properties": {
                    "day": {"type": "string", "format": "date"},
                    "high": {"type": "number", "format": "float"}
                },
                "required": ["day", "high"]
            },
            "Location": {
                "type": "object",
                "properties": {
                    "lat": {"type": "number", "format": "double"},
                    "lon": {"type": "number", "format": "double"}
                },
                "required": ["lat", "lon"]
            },
            "Source": {
                "description": "A data source.",
                "type": "object",
                "properties": {
                    "station_id": {"type": "string", "format": "uuid"},
                    "url": {"type": ["string", "null"], "format": "uri"}
                },
                "required": ["station_id"]
            }
        }
    })
}

#[test]
fn a_schemars_struct_becomes_strict() {
    let strict = to_strict_schema(&weather_schema());
    let source = json!({
        "description": "Where the numbers come from.",
        "type": "object",
        "properties": {
            "station_id": {"type": "string", "format": "uuid"},
            "url": {"type": ["string", "null"]}
        },
        "required": ["station_id", "url"],
        "additionalProperties": false
    });
    let expected = json!({
        "title": "Weather",
        "description": "A weather report.",
        "type": "object",
        "properties": {
            "city": {"description": "City name.", "type": "string"},
            "conditions": {"$ref": "#/$defs/Conditions"},
            "forecast": {"type": "array", "items": {"$ref": "#/$defs/Day"}},
            "humidity": {"type": "integer", "minimum": 0},
            "location": {"anyOf": [{"$ref": "#/$defs/Location"}, {"type": "null"}]},
            "observed_at": {
                "description": "When it was observed.",
                "type": ["string", "null"],
                "format": "date-time"
            },
            "source": source,
            "temperature_c": {"type": "number"}
        },
        "required": [
            "city", "conditions", "forecast", "humidity", "location", "observed_at",
            "source", "temperature_c"
        ],
        "additionalProperties": false,
        "$defs": {
            "Conditions": {"type": "string", "enum": ["sunny", "cloudy", "rain"]},
            "Day": {
                "type": "object",
                "properties": {
                    "day": {"type": "string", "format": "date"},
                    "high": {"type": "number"}
                },
                "required": ["day", "high"],
                "additionalProperties": false
            },
            "Location": {
                "type": "object",
                "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                "required": ["lat", "lon"],
                "additionalProperties": false
            },
            "Source": {
                "description": "A data source.",
                "type": "object",
                "properties": {
                    "station_id": {"type": "string", "format": "uuid"},
                    "url": {"type": ["string", "null"]}
                },
                "required": ["station_id", "url"],
                "additionalProperties": false
            }
        }
    });
    assert_eq!(strict, expected);
}

#[test]
fn the_input_is_untouched_and_the_transform_is_idempotent() {
    let input = weather_schema();
    let once = to_strict_schema(&input);
    assert_eq!(input, weather_schema());
    assert_eq!(to_strict_schema(&once), once);
}

#[test]
fn required_follows_the_property_order_of_the_map() {
    let input = json!({
        "type": "object",
        "properties": {"zeta": {"type": "string"}, "alpha": {"type": "string"}, "mid": {}}
    });
    let strict = to_strict_schema(&input);
    let order: Vec<&String> = strict["properties"].as_object().unwrap().keys().collect();
    let required: Vec<&str> = strict["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    assert_eq!(required, order);
    assert_eq!(required.len(), 3);
}

#[test]
fn nested_objects_and_arrays_of_objects() {
    let input = json!({
        "type": "object",
        "properties": {
            "inner": {
                "type": "object",
                "properties": {"deeper": {"properties": {"x": {"type": "integer"}}}}
            },
            "map": {
                "type": "object",
                "additionalProperties": {"type": "object", "properties": {"v": {}}}
            },
            "pair": {
                "type": "array",
                "prefixItems": [
                    {"type": "object", "properties": {"a": {}}},
                    {"type": "integer", "format": "uint"}
                ],
                "minItems": 2,
                "maxItems": 2
            },
            "rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "integer", "format": "int64"}}
                }
            }
        }
    });
    let strict = to_strict_schema(&input);
    let closed = |schema: &Value, required: Value| {
        assert_eq!(schema["additionalProperties"], false, "{schema}");
        assert_eq!(schema["required"], required, "{schema}");
    };
    closed(&strict, json!(["inner", "map", "pair", "rows"]));
    closed(&strict["properties"]["inner"], json!(["deeper"]));
    // An object schema recognised by `properties` alone.
    closed(
        &strict["properties"]["inner"]["properties"]["deeper"],
        json!(["x"]),
    );
    closed(&strict["properties"]["rows"]["items"], json!(["id"]));
    assert_eq!(
        strict["properties"]["rows"]["items"]["properties"]["id"],
        json!({"type": "integer"})
    );
    closed(
        &strict["properties"]["pair"]["prefixItems"][0],
        json!(["a"]),
    );
    assert_eq!(
        strict["properties"]["pair"]["prefixItems"][1],
        json!({"type": "integer"})
    );
    assert_eq!(strict["properties"]["pair"]["minItems"], 2);
    // A map keeps its value schema (made strict itself) and gets no `required`.
    let map = &strict["properties"]["map"];
    closed(&map["additionalProperties"], json!(["v"]));
    assert!(map.get("required").is_none());
}

#[test]
fn explicit_additional_properties_are_kept() {
    let input = json!({
        "type": "object",
        "properties": {
            "strict": {
                "type": "object",
                "properties": {"a": {}},
                "additionalProperties": false
            },
            "open": {"type": "object", "additionalProperties": true},
            "no_props": {"type": "object"}
        }
    });
    let strict = to_strict_schema(&input);
    assert_eq!(
        strict["properties"]["strict"]["additionalProperties"],
        false
    );
    assert_eq!(strict["properties"]["open"]["additionalProperties"], true);
    assert_eq!(
        strict["properties"]["no_props"],
        json!({"type": "object", "additionalProperties": false})
    );
}

#[test]
fn option_shapes_are_kept_nullable_and_required() {
    // schemars 1.x: Option<String> as a type array, Option<Struct> as anyOf with null.
    let input = json!({
        "type": "object",
        "properties": {
            "maybe_count": {"type": ["integer", "null"], "format": "uint64", "minimum": 0},
            "maybe_obj": {"type": ["object", "null"], "properties": {"k": {"type": "string"}}},
            "maybe_point": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {"x": {"type": "number", "format": "double"}},
                        "required": ["x"]
                    },
                    {"type": "null"}
                ]
            },
            "maybe_text": {"type": ["string", "null"]}
        },
        "required": []
    });
    let strict = to_strict_schema(&input);
    assert_eq!(
        strict["required"],
        json!(["maybe_count", "maybe_obj", "maybe_point", "maybe_text"])
    );
    assert_eq!(
        strict["properties"]["maybe_text"],
        json!({"type": ["string", "null"]})
    );
    assert_eq!(
        strict["properties"]["maybe_count"],
        json!({"type": ["integer", "null"], "minimum": 0})
    );
    assert_eq!(
        strict["properties"]["maybe_point"]["anyOf"],
        json!([
            {
                "type": "object",
                "properties": {"x": {"type": "number"}},
                "required": ["x"],
                "additionalProperties": false
            },
            {"type": "null"}
        ])
    );
    assert_eq!(strict["properties"]["maybe_obj"]["required"], json!(["k"]));
    assert_eq!(
        strict["properties"]["maybe_obj"]["additionalProperties"],
        false
    );
}

#[test]
fn enums_and_one_of_become_any_of() {
    // schemars 1.x: a unit enum is `enum`, an internally tagged enum is `oneOf` of objects,
    // an externally tagged mixed enum is `oneOf` of a string enum and objects.
    let input = json!({
        "$defs": {
            "Unit": {"type": "string", "enum": ["a", "b"]},
            "Shape": {
                "oneOf": [
                    {
                        "description": "A circle.",
                        "type": "object",
                        "properties": {
                            "kind": {"type": "string", "const": "circle"},
                            "radius": {"type": "number", "format": "double"}
                        },
                        "required": ["kind", "radius"]
                    },
                    {
                        "type": "object",
                        "properties": {
                            "kind": {"type": "string", "const": "square"},
                            "side": {"type": "number"}
                        },
                        "required": ["kind", "side"]
                    }
                ]
            },
            "Mixed": {
                "oneOf": [
                    {"type": "string", "enum": ["Empty"]},
                    {
                        "type": "object",
                        "properties": {
                            "Tuple": {
                                "type": "array",
                                "prefixItems": [
                                    {"type": "integer", "format": "int32"},
                                    {"type": "string"}
                                ],
                                "minItems": 2,
                                "maxItems": 2
                            }
                        },
                        "additionalProperties": false,
                        "required": ["Tuple"]
                    }
                ]
            },
            "Both": {
                "anyOf": [{"type": "string"}],
                "oneOf": [{"type": "string", "format": "int8"}]
            }
        }
    });
    let strict = to_strict_schema(&input);
    let defs = &strict["$defs"];
    assert_eq!(defs["Unit"], json!({"type": "string", "enum": ["a", "b"]}));
    assert!(defs["Shape"].get("oneOf").is_none());
    assert_eq!(
        defs["Shape"]["anyOf"][0],
        json!({
            "description": "A circle.",
            "type": "object",
            "properties": {
                "kind": {"type": "string", "const": "circle"},
                "radius": {"type": "number"}
            },
            "required": ["kind", "radius"],
            "additionalProperties": false
        })
    );
    assert_eq!(defs["Shape"]["anyOf"][1]["additionalProperties"], false);
    assert_eq!(
        defs["Mixed"]["anyOf"][0],
        json!({"type": "string", "enum": ["Empty"]})
    );
    assert_eq!(
        defs["Mixed"]["anyOf"][1]["properties"]["Tuple"]["prefixItems"][0],
        json!({"type": "integer"})
    );
    // Renaming would merge two constraints into one; the members are still transformed.
    assert_eq!(
        defs["Both"],
        json!({"anyOf": [{"type": "string"}], "oneOf": [{"type": "string"}]})
    );
    // The top level had `$defs` only: not an object schema.
    assert!(strict.get("additionalProperties").is_none());
}

#[test]
fn refs_without_siblings_stay_and_with_siblings_are_inlined() {
    let input = json!({
        "type": "object",
        "properties": {
            "plain": {"$ref": "#/$defs/Point"},
            "documented": {"$ref": "#/$defs/Point", "description": "Where.", "title": "Here"},
            "overriding": {"$ref": "#/$defs/Point", "description": "Field doc wins."},
            "null_default_only": {"$ref": "#/$defs/Point", "default": null},
            "old_style": {"$ref": "#/definitions/Old", "description": "Draft 7."},
            "escaped": {"$ref": "#/$defs/A~1B%20C", "description": "Pointer escapes."},
            "missing": {"$ref": "#/$defs/Nope", "description": "Unresolvable."},
            "remote": {"$ref": "other.json#/X", "description": "Not local."}
        },
        "$defs": {
            "Point": {
                "description": "A point.",
                "type": "object",
                "properties": {"x": {"type": "integer", "format": "int32"}}
            },
            "A/B C": {"type": "string", "format": "email"}
        },
        "definitions": {"Old": {"type": "object", "properties": {"y": {"type": "string"}}}}
    });
    let strict = to_strict_schema(&input);
    let props = &strict["properties"];
    let point = |description: &str| {
        json!({
            "description": description,
            "type": "object",
            "properties": {"x": {"type": "integer"}},
            "required": ["x"],
            "additionalProperties": false
        })
    };
    assert_eq!(props["plain"], json!({"$ref": "#/$defs/Point"}));
    let mut documented = point("Where.");
    documented["title"] = json!("Here");
    assert_eq!(props["documented"], documented);
    assert_eq!(props["overriding"], point("Field doc wins."));
    assert_eq!(props["null_default_only"], json!({"$ref": "#/$defs/Point"}));
    assert_eq!(
        props["old_style"],
        json!({
            "description": "Draft 7.",
            "type": "object",
            "properties": {"y": {"type": "string"}},
            "required": ["y"],
            "additionalProperties": false
        })
    );
    assert_eq!(
        props["escaped"],
        json!({"type": "string", "format": "email", "description": "Pointer escapes."})
    );
    assert_eq!(props["missing"], input["properties"]["missing"]);
    assert_eq!(props["remote"], input["properties"]["remote"]);
    assert_eq!(strict["$defs"]["Point"], point("A point."));
}

#[test]
fn recursive_refs_are_left_as_they_are() {
    // schemars 1.x refers to a recursive root type as "#".
    let tree = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Tree",
        "type": "object",
        "properties": {
            "children": {"type": "array", "items": {"$ref": "#"}},
            "parent": {"$ref": "#", "description": "The parent."},
            "value": {"type": "integer", "format": "int64"}
        },
        "required": ["children", "value"]
    });
    let strict = to_strict_schema(&tree);
    assert_eq!(
        strict["properties"]["children"]["items"],
        json!({"$ref": "#"})
    );
    assert_eq!(
        strict["properties"]["parent"],
        json!({"$ref": "#", "description": "The parent."})
    );
    assert_eq!(strict["required"], json!(["children", "parent", "value"]));

    // Through `$defs`: the use site with siblings is inlined once; inside, the recursive
    // reference stays a reference.
    let list = json!({
        "type": "object",
        "properties": {"head": {"$ref": "#/$defs/Node", "description": "First node."}},
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "next": {"$ref": "#/$defs/Node", "description": "Next node."},
                    "value": {"type": "string"}
                }
            }
        }
    });
    let node = json!({
        "type": "object",
        "properties": {
            "next": {"$ref": "#/$defs/Node", "description": "Next node."},
            "value": {"type": "string"}
        },
        "required": ["next", "value"],
        "additionalProperties": false
    });
    let strict = to_strict_schema(&list);
    assert_eq!(strict["$defs"]["Node"], node);
    let mut head = node;
    head["description"] = json!("First node.");
    assert_eq!(strict["properties"]["head"], head);

    // Mutual recursion terminates too.
    let mutual = json!({
        "$ref": "#/$defs/A",
        "$defs": {
            "A": {"type": "object", "properties": {"b": {"$ref": "#/$defs/B", "title": "b"}}},
            "B": {"type": "object", "properties": {"a": {"$ref": "#/$defs/A", "title": "a"}}}
        }
    });
    let strict = to_strict_schema(&mutual);
    assert_eq!(strict["type"], "object");
    assert_eq!(
        strict["properties"]["b"]["properties"]["a"],
        json!({"$ref": "#/$defs/A", "title": "a"})
    );
}

#[test]
fn a_single_all_of_is_merged_and_several_are_kept() {
    // schemars 0.8 / draft 7 wrapped documented references in a single `allOf`.
    let input = json!({
        "type": "object",
        "properties": {
            "wrapped": {
                "description": "Field doc.",
                "allOf": [{"$ref": "#/definitions/Inner"}]
            },
            "inline": {
                "allOf": [{
                    "type": "object",
                    "properties": {"z": {"format": "double", "type": "number"}}
                }]
            },
            "annotated": {
                "description": "Parent wins.",
                "allOf": [{"type": "string", "description": "Member."}]
            },
            "nested": {"allOf": [{"allOf": [{"type": "string", "format": "int16"}]}]},
            "conflict": {"type": "string", "allOf": [{"type": "integer"}]},
            "several": {
                "allOf": [
                    {"$ref": "#/definitions/Inner"},
                    {"type": "object", "properties": {"w": {}}}
                ]
            }
        },
        "definitions": {"Inner": {"type": "object", "properties": {"q": {"type": "boolean"}}}}
    });
    let strict = to_strict_schema(&input);
    let props = &strict["properties"];
    assert_eq!(
        props["wrapped"],
        json!({
            "description": "Field doc.",
            "type": "object",
            "properties": {"q": {"type": "boolean"}},
            "required": ["q"],
            "additionalProperties": false
        })
    );
    assert_eq!(
        props["inline"],
        json!({
            "type": "object",
            "properties": {"z": {"type": "number"}},
            "required": ["z"],
            "additionalProperties": false
        })
    );
    assert_eq!(
        props["annotated"],
        json!({"description": "Parent wins.", "type": "string"})
    );
    assert_eq!(props["nested"], json!({"type": "string"}));
    assert_eq!(props["conflict"], input["properties"]["conflict"]);
    assert_eq!(
        props["several"]["allOf"],
        json!([
            {"$ref": "#/definitions/Inner"},
            {
                "type": "object",
                "properties": {"w": {}},
                "required": ["w"],
                "additionalProperties": false
            }
        ])
    );
}

#[test]
fn null_defaults_are_dropped_and_others_kept() {
    let input = json!({
        "type": "object",
        "properties": {
            "a": {"type": ["string", "null"], "default": null},
            "b": {"type": "integer", "default": 3},
            "c": {
                "type": "object",
                "default": {"default": null, "format": "uint8"},
                "properties": {}
            }
        }
    });
    let strict = to_strict_schema(&input);
    assert_eq!(
        strict["properties"]["a"],
        json!({"type": ["string", "null"]})
    );
    assert_eq!(
        strict["properties"]["b"],
        json!({"type": "integer", "default": 3})
    );
    // Values are data, not schemas: untouched.
    assert_eq!(
        strict["properties"]["c"]["default"],
        json!({"default": null, "format": "uint8"})
    );
    assert_eq!(strict["properties"]["c"]["required"], json!([]));
}

#[test]
fn formats_strict_mode_knows_are_kept() {
    for format in SUPPORTED_FORMATS {
        let strict = to_strict_schema(&json!({"type": "string", "format": format}));
        assert_eq!(strict["format"], *format);
    }
    for format in [
        "uint32", "int64", "uint", "double", "float", "uint8", "uri", "regex",
    ] {
        let strict = to_strict_schema(&json!({"type": "string", "format": format}));
        assert!(strict.get("format").is_none(), "{format}");
    }
    assert!(to_strict_schema(&json!({"format": 7}))
        .get("format")
        .is_none());
}

#[test]
fn only_the_root_schema_keyword_goes_and_keyword_like_names_stay() {
    let input = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "$schema": {"type": "string"},
            "default": {"type": "null"},
            "format": {"type": "string", "format": "hostname"},
            "oneOf": {"type": "string"}
        }
    });
    let strict = to_strict_schema(&input);
    assert!(strict.get("$schema").is_none());
    assert_eq!(
        strict["properties"],
        json!({
            "$schema": {"type": "string"},
            "default": {"type": "null"},
            "format": {"type": "string", "format": "hostname"},
            "oneOf": {"type": "string"}
        })
    );
}

#[test]
fn non_object_schemas_are_kept() {
    assert_eq!(to_strict_schema(&json!(true)), json!(true));
    assert_eq!(to_strict_schema(&json!(null)), json!(null));
    assert_eq!(to_strict_schema(&json!({})), json!({}));
    assert_eq!(
        to_strict_schema(&json!({"items": [1, "x"]})),
        json!({"items": [1, "x"]})
    );
}

#[test]
fn the_transform_stops_at_its_depth_limit() {
    // Building, cloning and dropping such a Value recurses as well, in serde_json: give
    // the whole test room, and check that the transform stops where it says.
    let run = || {
        let mut deep = json!({"type": "integer", "format": "uint8"});
        for _ in 0..MAX_DEPTH + 10 {
            deep = json!({"type": "array", "format": "uint8", "items": deep});
        }
        let mut node = &to_strict_schema(&deep);
        let mut depth = 0;
        while let Some(items) = node.get("items") {
            assert_eq!(node.get("format").is_some(), depth > MAX_DEPTH, "{depth}");
            node = items;
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH + 10);
    };
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn schema_names_are_valid_for_the_api() {
    assert_eq!(schema_name("Weather"), "Weather");
    assert_eq!(schema_name("Wrapper<Weather>"), "Wrapper_Weather_");
    assert_eq!(schema_name("Pair<u8, String>"), "Pair_u8__String_");
    assert_eq!(schema_name("my_crate::Answer"), "my_crate__Answer");
    assert_eq!(schema_name("kebab-case_ok-1"), "kebab-case_ok-1");
    assert_eq!(schema_name("Caf\u{e9}"), "Caf_");
    assert_eq!(schema_name(""), "response");
    assert_eq!(schema_name(&"x".repeat(100)), "x".repeat(64));
    assert_eq!(schema_name(&"\u{e9}".repeat(100)), "_".repeat(64));
}

#[test]
fn percent_decoding_of_pointers() {
    assert_eq!(
        percent_decode("/$defs/A%20B").as_deref(),
        Some("/$defs/A B")
    );
    assert_eq!(percent_decode("/%3C%3e").as_deref(), Some("/<>"));
    assert_eq!(percent_decode("/%zz%2").as_deref(), Some("/%zz%2"));
    assert_eq!(percent_decode("/%ff"), None);
    assert_eq!(percent_decode("/%C3%A9").as_deref(), Some("/\u{e9}"));
}
