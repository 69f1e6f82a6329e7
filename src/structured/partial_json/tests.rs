use super::*;
use serde_json::json;

fn partial(text: &str) -> Option<Value> {
    parse_partial(text)
}

#[test]
fn complete_documents_parse_normally() {
    assert_eq!(
        partial(r#"{"a":[1,2.5,"x",true,false,null,{}]}"#),
        Some(json!({"a":[1,2.5,"x",true,false,null,{}]}))
    );
    assert_eq!(partial(" \n\t[ ] \r\n"), Some(json!([])));
    assert_eq!(partial("\"s\""), Some(json!("s")));
    assert_eq!(partial("0"), Some(json!(0)));
    assert_eq!(partial("-12.5e3"), Some(json!(-12500.0)));
    assert_eq!(partial("null"), Some(Value::Null));
}

#[test]
fn open_containers_are_closed() {
    assert_eq!(partial("{"), Some(json!({})));
    assert_eq!(partial("["), Some(json!([])));
    assert_eq!(
        partial(r#"{"a":[1,{"b":[2"#),
        Some(json!({"a":[1,{"b":[2]}]}))
    );
    assert_eq!(partial(r#"[1,"#), Some(json!([1])));
    assert_eq!(partial(r#"[[], ["#), Some(json!([[], []])));
    assert_eq!(partial(r#"{"a":1,"#), Some(json!({"a":1})));
    assert_eq!(
        partial("{\n  \"name\": \"Ada\",\n  "),
        Some(json!({"name":"Ada"}))
    );
}

#[test]
fn an_unterminated_string_value_is_kept() {
    assert_eq!(partial(r#"{"a":"hel"#), Some(json!({"a":"hel"})));
    assert_eq!(partial(r#"{"a":""#), Some(json!({"a":""})));
    assert_eq!(partial(r#"["x","y"#), Some(json!(["x", "y"])));
    assert_eq!(partial(r#""top"#), Some(json!("top")));
}

#[test]
fn an_unfinished_key_or_a_key_without_value_is_dropped() {
    assert_eq!(partial(r#"{"a":1,"b"#), Some(json!({"a":1})));
    assert_eq!(partial(r#"{"a":1,"b""#), Some(json!({"a":1})));
    assert_eq!(partial(r#"{"a":1,"b" "#), Some(json!({"a":1})));
    assert_eq!(partial(r#"{"a":1,"b":"#), Some(json!({"a":1})));
    assert_eq!(partial(r#"{"a":1,"b": "#), Some(json!({"a":1})));
    assert_eq!(partial(r#"{"b\u00"#), Some(json!({})));
}

#[test]
fn numbers_at_the_end_are_kept_only_when_already_numbers() {
    assert_eq!(partial(r#"{"n":12"#), Some(json!({"n":12})));
    assert_eq!(partial(r#"{"n":-0"#), Some(json!({"n":-0.0})));
    assert_eq!(partial(r#"{"n":1.5"#), Some(json!({"n":1.5})));
    assert_eq!(partial(r#"{"n":1e5"#), Some(json!({"n":1e5})));
    for cut in ["-", "1.", "1e", "1E", "1e+", "1.5e-", "-0."] {
        assert_eq!(
            partial(&format!(r#"{{"a":0,"n":{cut}"#)),
            Some(json!({"a":0})),
            "{cut}"
        );
        assert_eq!(partial(&format!("[{cut}")), Some(json!([])), "{cut}");
        assert_eq!(partial(cut), None, "{cut}");
    }
    assert_eq!(partial("12"), Some(json!(12)));
}

#[test]
fn partial_literals_are_dropped() {
    for cut in ["t", "tr", "tru", "f", "fals", "n", "nul"] {
        assert_eq!(
            partial(&format!(r#"{{"a":{cut}"#)),
            Some(json!({})),
            "{cut}"
        );
        assert_eq!(partial(&format!("[1,{cut}")), Some(json!([1])), "{cut}");
        assert_eq!(partial(cut), None, "{cut}");
    }
    assert_eq!(partial(r#"{"a":true"#), Some(json!({"a":true})));
}

#[test]
fn an_unfinished_escape_is_cut_before_it() {
    assert_eq!(partial(r#"{"a":"x\"#), Some(json!({"a":"x"})));
    assert_eq!(partial(r#"{"a":"x\n"#), Some(json!({"a":"x\n"})));
    for cut in [r"\u", r"\u0", r"\u00", r"\u00e"] {
        assert_eq!(
            partial(&format!(r#"["x{cut}"#)),
            Some(json!(["x"])),
            "{cut}"
        );
    }
    assert_eq!(partial(r#"["x\u00e9"#), Some(json!(["x\u{e9}"])));
}

#[test]
fn surrogate_pairs_split_anywhere_are_cut_whole() {
    let full = r#"["a\ud83d\ude00b"]"#;
    let emoji_start = full.find('\\').unwrap();
    let emoji_end = emoji_start + 12;
    for end in 0..=full.len() {
        let got = partial(&full[..end]);
        let expected = match end {
            0 => None,
            1 => Some(json!([])),
            2 => Some(json!([""])),
            _ if end <= emoji_start => Some(json!(["a"])),
            _ if end < emoji_end => Some(json!(["a"])),
            _ if end == emoji_end => Some(json!(["a\u{1f600}"])),
            _ => Some(json!(["a\u{1f600}b"])),
        };
        assert_eq!(got, expected, "{}", &full[..end]);
    }
    // Unpaired surrogates never become valid: serde_json refuses them too.
    for bad in [
        r#""\ud83d""#,
        r#""\ude00""#,
        r#""\ud83dx"#,
        r#""\ud83d\n"#,
        r#""\ud83d\u0041"#,
    ] {
        assert_eq!(partial(bad), None, "{bad}");
        assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
    }
}

#[test]
fn unicode_text_is_kept_as_is() {
    let doc = "{\"name\":\"Zo\u{eb} \u{4e2d}\u{6587} \u{1f600}\",\"k\u{e9}y\":\"\u{e9}\"}";
    for (end, _) in doc.char_indices() {
        assert!(parse(&doc[..end]).is_ok(), "{}", &doc[..end]);
    }
    assert_eq!(
        partial(&doc[..doc.find('\u{1f600}').unwrap()]),
        Some(json!({"name":"Zo\u{eb} \u{4e2d}\u{6587} "}))
    );
    assert_eq!(partial(doc), serde_json::from_str(doc).ok());
}

#[test]
fn invalid_text_gives_none() {
    for bad in [
        "",
        " \n\t",
        "}",
        "]",
        "{]",
        "[}",
        "{a:1}",
        "{'a':1}",
        "{\"a\" 1}",
        "{\"a\":1 \"b\":2}",
        "[1 2]",
        "[1,]",
        "{\"a\":1,}",
        "[,",
        "{,",
        "01",
        "[01",
        "-a",
        "1.x",
        "1e+x",
        "+1",
        ".5",
        "truex",
        "tx",
        "nulll",
        "[1]x",
        "{} {}",
        "\"a\"b",
        "\"\t\"",
        "\"a\nb",
        "\"\\x\"",
        "\"\\u12g4\"",
        "NaN",
        "Infinity",
        "[1e400]",
        "\u{feff}{}",
    ] {
        assert_eq!(partial(bad), None, "{bad:?}");
    }
    assert_eq!(parse(""), Ok(None));
    assert_eq!(parse("{]"), Err(Invalid));
}

#[test]
fn nesting_is_bounded_like_serde_json() {
    for depth in [MAX_DEPTH - 1, MAX_DEPTH] {
        let doc = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(
            partial(&doc),
            serde_json::from_str::<Value>(&doc).ok(),
            "{depth}"
        );
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        assert_eq!(
            partial(&objects),
            serde_json::from_str::<Value>(&objects).ok(),
            "{depth}"
        );
    }
    assert!(partial(&"[".repeat(MAX_DEPTH - 1)).is_some());
    // Hostile input is refused quickly, without recursing into it.
    assert_eq!(partial(&"[".repeat(1_000_000)), None);
    assert_eq!(partial(&"{\"a\":".repeat(1_000_000)), None);
}

/// The content of the captured llama.cpp structured stream, delta by delta.
fn captured_answer_deltas() -> Vec<String> {
    include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/captures/xllamacpp-json-schema-stream.sse"
    ))
    .lines()
    .filter_map(|line| line.strip_prefix("data: "))
    .filter(|data| *data != "[DONE]")
    .filter_map(|data| {
        let chunk: Value = serde_json::from_str(data).unwrap();
        chunk["choices"][0]["delta"]["content"]
            .as_str()
            .map(str::to_owned)
    })
    .collect()
}

#[test]
fn the_captured_stream_grows_into_the_answer() {
    let mut text = String::new();
    let mut shown = Vec::new();
    for delta in captured_answer_deltas() {
        text.push_str(&delta);
        shown.push(partial(&text));
    }
    assert_eq!(text, "{\n  \"name\": \"Ada\",\n  \"age\": 36\n}");
    assert_eq!(shown.first(), Some(&Some(json!({}))));
    assert!(
        shown.contains(&Some(json!({"name": "A"})))
            || shown.contains(&Some(json!({"name": "Ada"})))
    );
    assert_eq!(shown.last(), Some(&Some(json!({"name": "Ada", "age": 36}))));
}

/// `part` is what a prefix of the document that parses to `full` may show.
fn grows_into(part: &Value, full: &Value) -> bool {
    match (part, full) {
        (Value::Object(part), Value::Object(full)) => part
            .iter()
            .all(|(key, value)| full.get(key).is_some_and(|full| grows_into(value, full))),
        (Value::Array(part), Value::Array(full)) => {
            part.len() <= full.len() && part.iter().zip(full).all(|(p, f)| grows_into(p, f))
        }
        (Value::String(part), Value::String(full)) => full.starts_with(part.as_str()),
        // `12` may become `123` or `12.5`.
        (Value::Number(_), Value::Number(_)) => true,
        (part, full) => part == full,
    }
}

fn documents() -> Vec<String> {
    let mut docs: Vec<String> = [
        r#"{"name":"Ada","age":36,"langs":["en","fr"],"alive":false,"spouse":null}"#,
        r#"[1, -2, 3.25, -0, 0.5e-3, 1E+2, 12345678901234567890, -9223372036854775809]"#,
        r#"[1e-400, 0.1e1, 123.456e-2, 9007199254740993]"#,
        r#"{"esc":"quote \" backslash \\ slash \/ \b\f\n\r\t \u0000 \u00e9 \u4e2d"}"#,
        r#"{"pair":"\ud83d\ude00 \uD834\uDD1E \u20AC end"}"#,
        r#"{"nested":{"deeper":{"list":[[],[{}],[[1,[2,[3]]]]]}},"empty":"","z":{}}"#,
        "{\"unicode\":\"Zo\u{eb} \u{4e2d}\u{6587} \u{1f600}\",\"k\u{e9}y\":[\"\u{e9}\",true]}",
        "  [ \"spaced\" , { \"a\" : [ 1 , 2 ] } , null ]  ",
        r#""just a string with \"escapes\" \ud834\udd1e""#,
        "true",
        "-3.5E-7",
    ]
    .iter()
    .map(|doc| doc.to_string())
    .collect();
    docs.push(format!("{}1{}", "[".repeat(40), "]".repeat(40)));
    docs.push(captured_answer_deltas().concat());
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&docs[0]).unwrap());
    docs.push(pretty.unwrap());
    docs
}

#[test]
fn every_prefix_of_a_valid_document_is_a_prefix_not_an_error() {
    for doc in documents() {
        let full: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(partial(&doc).as_ref(), Some(&full), "{doc}");
        let non_space = doc.find(|c: char| !c.is_ascii_whitespace()).unwrap();
        for (end, _) in doc.char_indices() {
            let prefix = &doc[..end];
            let shown = parse(prefix);
            assert!(shown.is_ok(), "{prefix}");
            if let Ok(Some(shown)) = shown {
                assert!(
                    grows_into(&shown, &full),
                    "{prefix} shows {shown}, full {full}"
                );
            }
            // Inside a container, something is always shown.
            if end > non_space && matches!(doc.as_bytes()[non_space], b'{' | b'[') {
                assert!(partial(prefix).is_some(), "{prefix}");
            }
        }
    }
}

#[test]
fn no_input_makes_it_panic() {
    // Random token soup and every one-character corruption of the documents: anything
    // may be rejected, nothing may panic, and what serde_json accepts parses the same.
    let alphabet = [
        "{", "}", "[", "]", "\"", "\\", "u", "d83d", "dc00", ":", ",", "1", "-", ".", "e", "t",
        "\u{e9}", " ",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..20_000 {
        let mut text = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut state = seed;
        for _ in 0..(state % 24) {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            text.push_str(alphabet[(state >> 33) as usize % alphabet.len()]);
        }
        let got = parse_partial(&text);
        if let Ok(expected) = serde_json::from_str::<Value>(&text) {
            assert_eq!(got, Some(expected), "{text}");
        }
    }
    for doc in documents() {
        for (i, _) in doc.char_indices() {
            for replacement in ["\"", "\\", "}", "]", ",", "x", "\u{0}"] {
                let mut corrupted = doc.clone();
                corrupted.replace_range(
                    i..i + doc[i..].chars().next().map_or(0, char::len_utf8),
                    replacement,
                );
                let got = parse_partial(&corrupted);
                if let Ok(expected) = serde_json::from_str::<Value>(&corrupted) {
                    assert_eq!(got, Some(expected), "{corrupted}");
                }
            }
        }
    }
}
