//! Structured output against the scripted loopback server: the strict schema of derived
//! types, typed parsing, the json_object fallback on the wire, and streamed parsing with
//! partial JSON. Every test runs in both builds (`cargo test` and `cargo test --features
//! async`).

use std::time::Duration;

use openai_compatible::{
    ChatMessage, Error, ModelResponse, OpenAICompatibleModel, ParsePath, ResponseFormat, Result,
    StructuredEvent, Tool,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::support::modes::events;
use crate::support::{self, chat_completion, sse_chunks, Reply, ScriptedServer, KEY};

// ---------------------------------------------------------------------------------------
// Types and helpers
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
struct Person {
    name: String,
    age: u32,
}

/// A weather report.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Weather {
    /// City name.
    city: String,
    conditions: Conditions,
    forecast: Vec<Day>,
    humidity: u32,
    location: Option<Location>,
    /// Where the numbers come from.
    source: Source,
    alert: Option<Alert>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Conditions {
    Sunny,
    Cloudy,
    Rain,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Day {
    day: String,
    high: f32,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Location {
    lat: f64,
    lon: f64,
}

/// A data source.
#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Source {
    station_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(dead_code)]
enum Alert {
    Storm { level: u8 },
    Heat { max_c: f64 },
}

fn model_with(server: &ScriptedServer, config: Value, retries: u32) -> OpenAICompatibleModel {
    support::model(server)
        .max_retries(retries)
        .model_config(config)
        .build()
        .unwrap()
}

fn model(server: &ScriptedServer) -> OpenAICompatibleModel {
    model_with(server, json!({}), 0)
}

fn ask() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You answer with facts."),
        ChatMessage::user("Who wrote the first program?"),
        ChatMessage::assistant("Ada Lovelace."),
        ChatMessage::user("Her name and age when she wrote it?"),
    ]
}

/// A completion whose only choice has this message and finish reason.
fn answer(message: Value, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-s", "object": "chat.completion", "model": "scripted-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]
    })
}

const ADA: &str = r#"{"name": "Ada", "age": 36}"#;

fn ada() -> Person {
    Person {
        name: "Ada".into(),
        age: 36,
    }
}

/// Checks the strict-mode rules on every subschema; returns how many objects it saw.
fn assert_strict(schema: &Value, at: &str) -> usize {
    let mut objects = 0;
    match schema {
        Value::Object(map) => {
            assert!(!map.contains_key("oneOf"), "oneOf at {at}");
            assert!(
                map.get("default") != Some(&Value::Null),
                "default null at {at}"
            );
            if let Some(f) = map.get("format").and_then(Value::as_str) {
                assert!(
                    ["date-time", "date", "uuid", "email"].contains(&f),
                    "format {f} at {at}"
                );
            }
            if map.contains_key("$ref") {
                assert_eq!(map.len(), 1, "$ref with siblings at {at}: {schema}");
            }
            if let Some(Value::Object(props)) = map.get("properties") {
                objects += 1;
                assert_eq!(
                    map.get("additionalProperties"),
                    Some(&json!(false)),
                    "open object at {at}"
                );
                let keys: Vec<Value> = props.keys().map(|k| json!(k)).collect();
                assert_eq!(
                    map.get("required"),
                    Some(&Value::Array(keys)),
                    "required at {at}"
                );
            }
            for (k, v) in map {
                objects += assert_strict(v, &format!("{at}/{k}"));
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                objects += assert_strict(v, &format!("{at}/{i}"));
            }
        }
        _ => {}
    }
    objects
}

// ---------------------------------------------------------------------------------------
// The strict transform on real derived types
// ---------------------------------------------------------------------------------------

#[test]
fn strict_schema_of_nested_types_enums_options_and_refs() {
    let ResponseFormat::JsonSchema {
        name,
        schema,
        strict,
    } = ResponseFormat::for_type::<Weather>()
    else {
        panic!("not a schema format")
    };
    assert_eq!(name, "Weather");
    assert!(strict);
    assert!(schema.get("$schema").is_none());
    // Weather, Day, Location, Source (in $defs and inlined once), two Alert variants.
    assert_eq!(assert_strict(&schema, "#"), 7);
    let props = &schema["properties"];
    // Options stay nullable and become required.
    assert_eq!(props["location"]["anyOf"][1], json!({"type": "null"}));
    assert_eq!(props["note"], json!({"type": ["string", "null"]}));
    // A `$ref` with a sibling (the field's doc) is inlined; the field's doc wins.
    assert_eq!(
        props["source"]["description"],
        "Where the numbers come from."
    );
    assert_eq!(
        props["source"]["properties"]["station_id"]["type"],
        "string"
    );
    // Plain `$ref`s stay, into `$defs`.
    assert_eq!(props["conditions"], json!({"$ref": "#/$defs/Conditions"}));
    assert_eq!(
        schema["$defs"]["Conditions"]["enum"],
        json!(["sunny", "cloudy", "rain"])
    );
    // The tagged enum's oneOf became anyOf.
    let variants = schema["$defs"]["Alert"]["anyOf"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(variants[0]["properties"]["kind"]["const"], "storm");
    // Integer formats are gone, bounds are kept.
    assert_eq!(props["humidity"], json!({"type": "integer", "minimum": 0}));

    // An answer that follows the strict schema (nulls for the options) is a Weather.
    let w: Weather = serde_json::from_value(json!({
        "city": "Paris", "conditions": "rain", "forecast": [{"day": "mon", "high": 12.5}],
        "humidity": 80, "location": null, "source": {"station_id": "s1"},
        "alert": {"kind": "storm", "level": 2}, "note": null
    }))
    .unwrap();
    assert!(matches!(w.alert, Some(Alert::Storm { level: 2 })));
}

#[test]
fn strict_schema_merges_single_all_of_from_draft_07_output() {
    // schemars's draft-07 settings write a `$ref` with siblings as a one-entry allOf.
    let raw = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Weather>();
    let raw = raw.as_value();
    assert!(raw.to_string().contains("allOf"), "{raw}");
    assert!(raw.get("definitions").is_some());

    let format = ResponseFormat::json_schema_strict("Weather report", raw);
    let ResponseFormat::JsonSchema { name, schema, .. } = &format else {
        panic!("not a schema format")
    };
    assert_eq!(name, "Weather_report");
    assert!(!schema.to_string().contains("allOf"), "{schema}");
    assert_eq!(assert_strict(schema, "#"), 7);
    let source = &schema["properties"]["source"];
    assert_eq!(source["description"], "Where the numbers come from.");
    assert_eq!(source["additionalProperties"], false);
    assert_eq!(
        schema["properties"]["conditions"],
        json!({"$ref": "#/definitions/Conditions"})
    );
}

// ---------------------------------------------------------------------------------------
// parse: success, refusal, finish reasons, tools
// ---------------------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn parse_sends_the_strict_schema_and_returns_the_type() {
    let server = ScriptedServer::start(vec![Reply::json(200, chat_completion(ADA))]);
    // A streaming config does not make `parse` stream.
    let m = model_with(
        &server,
        json!({"stream": true, "stream_options": {"include_usage": true}, "temperature": 0}),
        0,
    );
    let p = m.parse::<Person>(&ask(), None).await.unwrap();
    assert_eq!(p.path, ParsePath::JsonSchema);
    assert_eq!(p.parsed(), Some(&ada()));
    assert_eq!(p.refusal(), None);
    assert_eq!(p.content(), Some(ADA));
    assert_eq!(
        p.choices[0].message.message.parsed,
        Some(json!({"name": "Ada", "age": 36}))
    );
    assert_eq!(p.usage.as_ref().unwrap().total_tokens, 12);

    assert_eq!(server.hits(), 1);
    let body = server.requests()[0].json();
    assert_eq!(body.get("stream"), None);
    assert_eq!(body.get("stream_options"), None);
    assert_eq!(body["temperature"], 0);
    assert_eq!(
        body["response_format"],
        ResponseFormat::for_type::<Person>().to_wire()
    );
    assert_eq!(body["response_format"]["json_schema"]["name"], "Person");
    assert_eq!(body["response_format"]["json_schema"]["strict"], true);
    assert_eq!(
        body["response_format"]["json_schema"]["schema"]["required"],
        json!(["name", "age"])
    );
    assert_eq!(p.into_parsed().unwrap(), ada());
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_refusal_leaves_parsed_empty_and_exposes_the_text() {
    let server = ScriptedServer::start(vec![Reply::json(
        200,
        answer(
            json!({"role": "assistant", "content": null, "refusal": "I can't help with that."}),
            "stop",
        ),
    )]);
    let p = model(&server).parse::<Person>(&ask(), None).await.unwrap();
    assert_eq!(server.hits(), 1, "a refusal is an answer: no fallback");
    assert_eq!(p.parsed(), None);
    assert_eq!(p.refusal(), Some("I can't help with that."));
    assert_eq!(
        p.choices[0].message.refusal.as_deref(),
        Some("I can't help with that.")
    );
    match p.into_parsed() {
        Err(Error::Refusal(text)) => assert_eq!(text, "I can't help with that."),
        other => panic!("{other:?}"),
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn length_and_content_filter_are_errors_without_fallback() {
    let server = ScriptedServer::start(vec![
        Reply::json(
            200,
            answer(
                json!({"role": "assistant", "content": "{\"name\": \"A"}),
                "length",
            ),
        ),
        Reply::json(
            200,
            answer(
                json!({"role": "assistant", "content": ""}),
                "content_filter",
            ),
        ),
    ]);
    let m = model(&server);
    match m.parse::<Person>(&ask(), None).await {
        Err(Error::Length(c)) => assert_eq!(c.content(), Some("{\"name\": \"A")),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.hits(), 1);
    match m.parse::<Person>(&ask(), None).await {
        Err(Error::ContentFilter(c)) => assert_eq!(c.id, "chatcmpl-s"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.hits(), 2);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn non_strict_tools_fail_before_any_request() {
    let params = json!({"type": "object", "properties": {"city": {"type": "string"}},
                        "required": ["city"], "additionalProperties": false});
    let loose = Tool::function("get_weather", "Weather for a city", params.clone());
    let strict = Tool::function("get_time", "Time in a city", params).strict(true);
    let server = ScriptedServer::start(vec![Reply::json(200, chat_completion(ADA))]);
    let m = model(&server);

    let err = m
        .parse::<Person>(&ask(), Some(&[strict.clone(), loose.clone()]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(msg) if msg.contains("`get_weather`")),
        "{err}"
    );
    // The streamed form checks too, and nothing is sent.
    assert!(matches!(
        m.stream_parse::<Person>(&ask(), Some(std::slice::from_ref(&loose))),
        Err(Error::InvalidInput(_))
    ));
    // Tools from the config are checked when the call gives none.
    let cfg = model_with(
        &server,
        json!({"tools": [serde_json::to_value(&loose).unwrap()]}),
        0,
    );
    let err = cfg.parse::<Person>(&ask(), None).await.unwrap_err();
    assert!(err.to_string().contains("get_weather"), "{err}");
    assert_eq!(server.hits(), 0);

    // Strict tools are sent.
    let p = m
        .parse::<Person>(&ask(), Some(std::slice::from_ref(&strict)))
        .await
        .unwrap();
    assert_eq!(p.parsed(), Some(&ada()));
    assert_eq!(
        server.requests()[0].json()["tools"][0]["function"]["strict"],
        true
    );
}

// ---------------------------------------------------------------------------------------
// The json_object fallback
// ---------------------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn fallback_after_a_400_rewrites_the_last_message_on_the_wire() {
    let server = ScriptedServer::start(vec![
        Reply::json(
            400,
            json!({"error": {"message": "Invalid schema for response_format 'Person'",
                             "type": "invalid_request_error", "param": "response_format"}}),
        ),
        Reply::json(200, chat_completion(ADA)),
    ]);
    // Retries are on: a 400 is not retried, the fallback is a new request.
    let m = model_with(&server, json!({}), 3);
    let messages = ask();
    let before = messages.clone();
    let p = m.parse::<Person>(&messages, None).await.unwrap();
    assert_eq!(p.path, ParsePath::JsonObjectFallback);
    assert_eq!(p.parsed(), Some(&ada()));
    assert_eq!(messages, before, "the caller's messages are never changed");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let (first, second) = (reqs[0].json(), reqs[1].json());
    assert_eq!(first["response_format"]["type"], "json_schema");
    assert_eq!(second["response_format"], json!({"type": "json_object"}));
    let schema = ResponseFormat::for_type::<Person>()
        .schema()
        .unwrap()
        .to_string();
    let expected = format!(
        "Her name and age when she wrote it?\n\nPlease generate a JSON response adhering to \
         the following JSON schema:\n{schema}\nMake sure the JSON response is valid and \
         matches the EXACT structure defined in the schema. Your result should ONLY be a \
         valid json object, WITHOUT ANY OTHER TEXT OR COMMENTS."
    );
    assert_eq!(second["messages"][3]["content"], expected);
    // Everything else is sent as before.
    let (sent_first, sent_second) = (
        first["messages"].as_array().unwrap(),
        second["messages"].as_array().unwrap(),
    );
    assert_eq!(sent_second[..3], sent_first[..3]);
    assert_eq!(second["messages"][2]["content"], "Ada Lovelace.");
    assert_eq!(second["messages"].as_array().unwrap().len(), 4);
}

/// llama-cpp-python's answer to a `json_schema` response format: a 500 naming it.
fn llama_cpp_python_rejects_the_schema() -> Reply {
    let body = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/captures/llama-cpp-python-err-json-schema-500.json"
    ))
    .unwrap();
    Reply::text(500, "application/json", &body)
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_format_rejection_goes_to_the_fallback_without_retries() {
    let server = ScriptedServer::start(vec![
        llama_cpp_python_rejects_the_schema(),
        Reply::json(200, chat_completion(ADA)),
    ]);
    // Three retries are allowed, but retrying the same schema cannot help.
    let m = model_with(&server, json!({}), 3);
    let p = m.parse::<Person>(&ask(), None).await.unwrap();
    assert_eq!(p.path, ParsePath::JsonObjectFallback);
    assert_eq!(p.parsed(), Some(&ada()));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "no retry of the rejected schema");
    assert_eq!(
        reqs[1].json()["response_format"],
        json!({"type": "json_object"})
    );
    assert_eq!(reqs[1].header("x-stainless-retry-count"), Some("0"));

    // Without a schema to fall back on (plain json_object), a 500 is retried as usual.
    let server = ScriptedServer::start(vec![
        llama_cpp_python_rejects_the_schema(),
        Reply::json(200, chat_completion(ADA)),
    ]);
    let m = model_with(&server, json!({}), 3);
    let p = m
        .parse_with::<Person>(&ask(), &ResponseFormat::JsonObject, None)
        .await
        .unwrap();
    assert_eq!(p.path, ParsePath::JsonObject);
    assert_eq!(
        server.requests()[1].header("x-stainless-retry-count"),
        Some("1")
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_stream_falls_back_to_json_object_when_the_schema_is_refused() {
    let server = ScriptedServer::start(vec![
        llama_cpp_python_rejects_the_schema(),
        Reply::sse(&sse_chunks(&[r#"{"name": "Ada","#, r#" "age": 36}"#])),
    ]);
    let m = model_with(&server, json!({}), 3);
    let mut stream = m.stream_parse::<Person>(&ask(), None).unwrap();
    let all = events(&mut stream).await;
    assert!(all.iter().all(Result::is_ok), "{all:?}");
    let done = stream.final_completion().await.unwrap();
    assert_eq!(done.path, ParsePath::JsonObjectFallback);
    assert_eq!(done.parsed(), Some(&ada()));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let second = reqs[1].json();
    assert_eq!(second["response_format"], json!({"type": "json_object"}));
    assert_eq!(second["stream"], true);
    assert!(second["messages"][3]["content"]
        .as_str()
        .unwrap()
        .contains("Please generate a JSON response"));
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn fallback_after_content_that_is_not_json_or_not_the_type() {
    for first in [
        "Sure! Ada was 36.",
        r#"{"name": "Ada"}"#,
        r#"{"name": "Ada", "age": "36"}"#,
    ] {
        let server = ScriptedServer::start(vec![
            Reply::json(200, chat_completion(first)),
            // Models answering json_object loosely wrap the JSON in a fence: tolerated.
            Reply::json(200, chat_completion(&format!("```json\n{ADA}\n```"))),
        ]);
        let p = model(&server).parse::<Person>(&ask(), None).await.unwrap();
        assert_eq!(p.path, ParsePath::JsonObjectFallback, "{first}");
        assert_eq!(p.parsed(), Some(&ada()));
        assert_eq!(server.hits(), 2);
        assert_eq!(
            server.requests()[1].json()["response_format"],
            json!({"type": "json_object"})
        );
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn the_fallback_is_tried_once() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion("not json")),
        Reply::json(200, chat_completion("still not json")),
        Reply::json(200, chat_completion(ADA)),
    ]);
    match model(&server).parse::<Person>(&ask(), None).await {
        Err(Error::Decode { message, snippet }) => {
            assert!(message.contains("not valid JSON"), "{message}");
            assert_eq!(snippet, "still not json");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.hits(), 2);

    // Errors other than 400 (and format complaints) are not a reason to fall back.
    let server = ScriptedServer::start(vec![Reply::json(
        401,
        json!({"error": {"message": "bad key"}}),
    )]);
    let err = model(&server)
        .parse::<Person>(&ask(), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(server.hits(), 1);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_server_that_only_knows_json_object_is_handled() {
    // llama-cpp-python answers json_schema with a 500 naming the response format.
    let body = include_str!("../data/captures/llama-cpp-python-err-json-schema-500.json");
    let server = ScriptedServer::start(vec![
        Reply::text(500, "application/json", body),
        Reply::json(200, chat_completion(ADA)),
    ]);
    let p = model(&server).parse::<Person>(&ask(), None).await.unwrap();
    assert_eq!(p.path, ParsePath::JsonObjectFallback);
    assert_eq!(p.into_parsed().unwrap(), ada());
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_raw_schema_parses_into_a_json_value() {
    // What `chat --schema FILE` needs: a schema read from a file, the answer as JSON.
    let server = ScriptedServer::start(vec![Reply::json(200, chat_completion(ADA))]);
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"},
                        "age": {"type": "integer"}}, "required": ["name", "age"]});
    let format = ResponseFormat::json_schema("person", schema.clone());
    let p = model(&server)
        .parse_with::<Value>(&ask(), &format, None)
        .await
        .unwrap();
    assert_eq!(p.into_parsed().unwrap(), json!({"name": "Ada", "age": 36}));
    let sent = &server.requests()[0].json()["response_format"]["json_schema"];
    assert_eq!(sent["schema"], schema, "a raw schema is sent as given");
    assert_eq!(sent["name"], "person");

    // Text cannot be parsed.
    let err = model(&server)
        .parse_with::<Value>(&ask(), &ResponseFormat::Text, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)));
    assert_eq!(server.hits(), 1);
}

// ---------------------------------------------------------------------------------------
// run(): schema formats parse, raw formats pass through
// ---------------------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn run_parses_schema_formats_and_passes_raw_ones_through() {
    let server = ScriptedServer::always(Reply::json(200, chat_completion(ADA)));
    let m = model(&server);
    let format = ResponseFormat::for_type::<Person>();
    let Ok(ModelResponse::Completion(c)) = m.run(&ask(), Some(&format), None).await else {
        panic!("not a completion")
    };
    assert_eq!(
        c.message().unwrap().parsed,
        Some(json!({"name": "Ada", "age": 36}))
    );

    let Ok(ModelResponse::Completion(c)) =
        m.run(&ask(), Some(&ResponseFormat::JsonObject), None).await
    else {
        panic!("not a completion")
    };
    assert_eq!(c.message().unwrap().parsed, None);
    assert_eq!(
        server.requests()[1].json()["response_format"],
        json!({"type": "json_object"})
    );

    // A response_format in the config is raw JSON: sent, not parsed.
    let cfg = model_with(
        &server,
        json!({"response_format": ResponseFormat::for_type::<Person>().to_wire()}),
        0,
    );
    let Ok(ModelResponse::Completion(c)) = cfg.run(&ask(), None, None).await else {
        panic!("not a completion")
    };
    assert_eq!(c.message().unwrap().parsed, None);
    assert_eq!(
        server.requests()[2].json()["response_format"]["type"],
        "json_schema"
    );
    // A message with `parsed` sent back does not carry it on the wire.
    let mut history = ask();
    history.push(c.message().unwrap().clone());
    history.last_mut().unwrap().parsed = Some(json!({"x": 1}));
    m.run(&history, Some(&format), None).await.unwrap();
    assert_eq!(
        server.requests()[3].json()["messages"][4].get("parsed"),
        None
    );
}

// ---------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn stream_parse_is_lazy_and_yields_partial_json() {
    let server = ScriptedServer::start(vec![Reply::sse(&sse_chunks(&[
        "{\"na",
        "me\": \"Ad",
        "a\", \"age\": 3",
        "6}",
    ]))]);
    let m = model(&server);
    let mut stream = m.stream_parse::<Person>(&ask(), None).unwrap();
    assert!(!stream.is_started());
    assert!(
        !server.wait_for_hits(1, Duration::from_millis(150)),
        "no request before the first read"
    );

    let all = events(&mut stream).await;
    assert_eq!(server.hits(), 1);
    let body = server.requests()[0].json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["response_format"]["json_schema"]["name"], "Person");

    let mut partials = Vec::new();
    let mut chunks = 0;
    let mut done = None;
    for e in all {
        match e.unwrap() {
            StructuredEvent::Chunk(_) => chunks += 1,
            StructuredEvent::ContentDelta { parsed, .. } => partials.push(parsed),
            StructuredEvent::ContentDone {
                content, parsed, ..
            } => done = Some((content, parsed)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(chunks, 6, "role, four content deltas, finish");
    assert_eq!(
        partials,
        vec![
            Some(json!({})),
            Some(json!({"name": "Ad"})),
            Some(json!({"name": "Ada", "age": 3})),
            Some(json!({"name": "Ada", "age": 36})),
        ]
    );
    let (content, parsed) = done.expect("content done");
    assert_eq!(content, "{\"name\": \"Ada\", \"age\": 36}");
    assert_eq!(parsed, ada());

    let done = stream.final_completion().await.unwrap();
    assert_eq!(done.path, ParsePath::JsonSchema);
    assert_eq!(done.into_parsed().unwrap(), ada());
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn run_with_a_streaming_config_gives_a_lazy_structured_stream() {
    let server = ScriptedServer::start(vec![Reply::sse(&sse_chunks(&[ADA]))]);
    let m = model_with(&server, json!({"stream": true}), 0);
    let format = ResponseFormat::for_type::<Person>();
    let response = m.run(&ask(), Some(&format), None).await.unwrap();
    let ModelResponse::StructuredStream(manager) = response else {
        panic!("not a structured stream: {response:?}")
    };
    assert!(!server.wait_for_hits(1, Duration::from_millis(150)));
    // final_completion sends the request and reads everything.
    let parsed = manager.final_completion().await.unwrap();
    assert_eq!(server.hits(), 1);
    assert_eq!(parsed.parsed(), Some(&json!({"name": "Ada", "age": 36})));

    // into_completion works on the structured variant too.
    server.push(Reply::sse(&sse_chunks(&[ADA])));
    let c = m
        .run(&ask(), Some(&format), None)
        .await
        .unwrap()
        .into_completion()
        .await
        .unwrap();
    assert_eq!(
        c.message().unwrap().parsed,
        Some(json!({"name": "Ada", "age": 36}))
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_recorded_llama_cpp_stream_parses() {
    let body = include_str!("../data/captures/xllamacpp-json-schema-stream.sse");
    let server = ScriptedServer::start(vec![Reply::text(200, "text/event-stream", body)]);
    let mut stream = model(&server).stream_parse::<Person>(&ask(), None).unwrap();
    let all = events(&mut stream).await;
    let partials: Vec<Value> = all
        .iter()
        .filter_map(|e| match e {
            Ok(StructuredEvent::ContentDelta {
                parsed: Some(p), ..
            }) => Some(p.clone()),
            _ => None,
        })
        .collect();
    // Every partial value is a prefix-state of the final object.
    assert_eq!(partials.first(), Some(&json!({})));
    assert_eq!(partials.last(), Some(&json!({"name": "Ada", "age": 36})));
    assert!(partials.contains(&json!({"name": "Ad"})) || partials.contains(&json!({"name": ""})));
    assert!(all.iter().all(Result::is_ok));
    let done = stream.final_completion().await.unwrap();
    assert_eq!(done.usage.as_ref().unwrap().completion_tokens, 24);
    assert_eq!(done.into_parsed().unwrap(), ada());
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn stream_errors_end_the_stream() {
    // finish_reason length: the last item is the length error.
    let mut events_text = sse_chunks(&["{\"name\": \"A"]);
    let finish = events_text.len() - 2;
    events_text[finish] = events_text[finish].replace("\"stop\"", "\"length\"");
    let server = ScriptedServer::start(vec![
        Reply::sse(&events_text),
        Reply::sse(&events_text),
        Reply::json(400, json!({"error": {"message": "bad schema"}})),
        Reply::sse(&sse_chunks(&[r#"{"name": "Ada"}"#])),
    ]);
    let m = model(&server);
    let mut stream = m.stream_parse::<Person>(&ask(), None).unwrap();
    let all = events(&mut stream).await;
    assert!(matches!(all.last(), Some(Err(Error::Length(_)))), "{all:?}");
    let after_error = stream.final_completion().await;
    assert!(
        matches!(after_error, Err(Error::IncompleteStream(_))),
        "{after_error:?}"
    );
    // final_completion without reading reports the error itself.
    let stream = m.stream_parse::<Person>(&ask(), None).unwrap();
    let unread = stream.final_completion().await;
    assert!(matches!(unread, Err(Error::Length(_))), "{unread:?}");
    // A refused schema comes before any chunk, so the stream asks again with json_object;
    // that answer does not fit the type, so it fails at content.done.
    let mut stream = m.stream_parse::<Person>(&ask(), None).unwrap();
    let all = events(&mut stream).await;
    assert!(
        matches!(all.last(), Some(Err(Error::Decode { .. }))),
        "{all:?}"
    );
    assert_eq!(
        server.requests()[3].json()["response_format"],
        json!({"type": "json_object"})
    );
    assert_eq!(server.hits(), 4);
}

// ---------------------------------------------------------------------------------------
// Async: the futures and the manager are Send
// ---------------------------------------------------------------------------------------

#[cfg(feature = "async")]
#[tokio::test]
async fn futures_and_streams_are_send_and_spawnable() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion(ADA)),
        Reply::sse(&sse_chunks(&[ADA])),
        Reply::sse(&sse_chunks(&[ADA])),
    ]);
    let m = model(&server);
    let m1 = m.clone();
    let parsed = tokio::spawn(async move { m1.parse::<Person>(&ask(), None).await });
    assert_eq!(parsed.await.unwrap().unwrap().into_parsed().unwrap(), ada());

    let mut stream = m.stream_parse::<Person>(&ask(), None).unwrap();
    let read = tokio::spawn(async move {
        let mut n = 0;
        while let Some(e) = futures_util::StreamExt::next(&mut stream).await {
            e?;
            n += 1;
        }
        stream.final_completion().await.map(|p| (n, p))
    });
    let (n, p) = read.await.unwrap().unwrap();
    assert!(n >= 4);
    assert_eq!(p.into_parsed().unwrap(), ada());

    let stream = m.stream_parse::<Person>(&ask(), None).unwrap();
    let done = tokio::spawn(stream.final_completion());
    assert_eq!(done.await.unwrap().unwrap().into_parsed().unwrap(), ada());
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn the_key_stays_out_of_parse_errors() {
    // A model (or proxy) echoing the key in an answer that does not parse.
    let echo = format!("my key is {KEY}, not JSON");
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion(&echo)),
        Reply::json(200, chat_completion(&echo)),
        Reply::sse(&sse_chunks(&[&echo])),
    ]);
    let m = model(&server);
    let err = m.parse::<Person>(&ask(), None).await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }));
    assert!(!format!("{err} {err:?}").contains(KEY), "{err:?}");
    let mut stream = m.stream_parse::<Person>(&ask(), None).unwrap();
    let all = events(&mut stream).await;
    let err = all.last().unwrap().as_ref().unwrap_err();
    assert!(matches!(err, Error::Decode { .. }));
    assert!(!format!("{err} {err:?}").contains(KEY), "{err:?}");
}
