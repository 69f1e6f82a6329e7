//! Message processing on the wire (docs/SPEC.md §5): think tags stripped from what is sent, tool
//! results regrouped after their calls, think blocks moved into `reasoning_content` on the
//! way back, and the `extract_thinking_from_response` switch. Every test runs in both builds.

use openai_compatible::{
    ChatCompletion, ChatMessage, ModelResponse, OpenAICompatibleModel, ReasoningField, ToolCall,
};
use serde_json::{json, Value};

use crate::support::{self, chat_completion, Reply, ScriptedServer};

fn model(server: &ScriptedServer) -> OpenAICompatibleModel {
    support::model(server).log_model_io(false).build().unwrap()
}

fn calls(ids: &[&str]) -> ChatMessage {
    ChatMessage::assistant_tool_calls(
        ids.iter()
            .map(|id| ToolCall::function(*id, "lookup", "{}"))
            .collect(),
    )
}

/// The `messages` the server received, as JSON.
fn sent_messages(server: &ScriptedServer) -> Vec<Value> {
    let body = server.requests()[0].json();
    body["messages"].as_array().cloned().unwrap_or_default()
}

/// A compact picture of sent messages: `user:text`, `assistant[ids]`, `tool:id`, ….
fn shape(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            let role = m["role"].as_str().unwrap_or("?");
            if let Some(calls) = m["tool_calls"].as_array() {
                let ids: Vec<&str> = calls.iter().filter_map(|c| c["id"].as_str()).collect();
                format!("{role}[{}]", ids.join(","))
            } else if role == "tool" {
                format!("tool:{}", m["tool_call_id"].as_str().unwrap_or("-"))
            } else {
                format!("{role}:{}", m["content"].as_str().unwrap_or(""))
            }
        })
        .collect()
}

fn answer(message: Value) -> Value {
    let mut c = chat_completion("");
    c["choices"][0]["message"] = message;
    c
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn think_tags_are_stripped_from_what_is_sent_and_the_callers_messages_kept() {
    let server = ScriptedServer::start(vec![Reply::json(200, chat_completion("ok"))]);
    let messages = vec![
        ChatMessage::system("System <think>thinking</think> message"),
        ChatMessage::user("Hello <think>thinking about response</think> world"),
        ChatMessage::assistant("<think>Let me think...\nThinking more...</think>Response"),
        ChatMessage::user(
            "Start <think>First thought</think> middle <think>Second thought</think> end",
        ),
        ChatMessage::assistant("Before<think></think>After"),
        ChatMessage::user("plain <think> one tag only "),
    ];
    let before = messages.clone();
    model(&server).complete(&messages).await.unwrap();
    assert_eq!(
        shape(&sent_messages(&server)),
        [
            "system:System <think>thinking</think> message",
            "user:Hello  world",
            "assistant:Response",
            "user:Start  middle  end",
            "assistant:BeforeAfter",
            "user:plain <think> one tag only ",
        ]
    );
    assert_eq!(messages, before, "the caller's messages were modified");
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_valid_conversation_with_two_tool_rounds_is_sent_unchanged() {
    let server = ScriptedServer::start(vec![Reply::json(200, chat_completion("ok"))]);
    let messages = vec![
        ChatMessage::user("What is the weather?"),
        calls(&["a"]),
        ChatMessage::tool("a", r#"{"temperature": 72}"#),
        ChatMessage::user("What about the time and date?"),
        calls(&["b", "c"]),
        ChatMessage::tool("b", r#"{"time": "10:30"}"#),
        ChatMessage::tool("c", r#"{"date": "2023-04-15"}"#),
        ChatMessage::assistant("10:30 on April 15."),
    ];
    model(&server).complete(&messages).await.unwrap();
    assert_eq!(
        Value::Array(sent_messages(&server)),
        serde_json::to_value(&messages).unwrap()
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_result_before_its_call_is_moved_after_it_in_call_order() {
    let server = ScriptedServer::start(vec![Reply::json(200, chat_completion("ok"))]);
    let messages = vec![
        ChatMessage::user("What is the weather and time?"),
        ChatMessage::tool("a", r#"{"temperature": 72}"#),
        calls(&["a", "b"]),
        ChatMessage::tool("b", r#"{"time": "10:30"}"#),
        ChatMessage::assistant("Sunny, 10:30."),
    ];
    let before = messages.clone();
    model(&server).complete(&messages).await.unwrap();
    assert_eq!(
        shape(&sent_messages(&server)),
        [
            "user:What is the weather and time?",
            "assistant[a,b]",
            "tool:a",
            "tool:b",
            "assistant:Sunny, 10:30.",
        ]
    );
    assert_eq!(messages, before);
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn an_orphan_result_goes_to_the_end_and_a_missing_result_stays_missing() {
    let server = ScriptedServer::start(vec![
        Reply::json(200, chat_completion("ok")),
        Reply::json(200, chat_completion("ok")),
    ]);
    let m = model(&server);
    let orphan = vec![
        ChatMessage::user("What is the weather?"),
        ChatMessage::tool("ghost", r#"{"temperature": 72}"#),
        ChatMessage::assistant("72F."),
    ];
    m.complete(&orphan).await.unwrap();
    let missing = vec![
        ChatMessage::user("What is the weather and time?"),
        calls(&["a", "b"]),
        ChatMessage::tool("a", r#"{"temperature": 72}"#),
        ChatMessage::assistant("72F."),
    ];
    m.complete(&missing).await.unwrap();
    let requests = server.requests();
    let sent = |i: usize| {
        shape(
            requests[i].json()["messages"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
        )
    };
    assert_eq!(
        sent(0),
        ["user:What is the weather?", "assistant:72F.", "tool:ghost"]
    );
    assert_eq!(
        sent(1),
        [
            "user:What is the weather and time?",
            "assistant[a,b]",
            "tool:a",
            "assistant:72F."
        ]
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn think_blocks_in_the_answer_become_reasoning_content() {
    let server = ScriptedServer::start(vec![
        Reply::json(
            200,
            chat_completion("<think>first</think> middle <think>second</think> end"),
        ),
        Reply::json(
            200,
            chat_completion("<think>\nline1\nline2\n</think>\n\nanswer"),
        ),
        Reply::json(
            200,
            answer(
                json!({"role": "assistant", "content": "<think>in content</think>\n\n4", "reasoning_content": "already set"}),
            ),
        ),
    ]);
    let m = model(&server);
    let hi = [ChatMessage::user("hi")];

    let c = m.complete(&hi).await.unwrap();
    assert_eq!(c.content(), Some("middle  end"));
    assert_eq!(
        c.message().unwrap().reasoning_content.as_deref(),
        Some("first")
    );

    let c = m.complete(&hi).await.unwrap();
    assert_eq!(c.content(), Some("answer"));
    assert_eq!(c.message().unwrap().reasoning(), Some("line1\nline2"));

    // Reasoning already given by the server: the content is left as it came.
    let ModelResponse::Completion(c) = m.run(&hi, None, None).await.unwrap() else {
        panic!("expected a completion");
    };
    assert_eq!(c.content(), Some("<think>in content</think>\n\n4"));
    assert_eq!(
        c.message().unwrap().reasoning_content.as_deref(),
        Some("already set")
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn the_switch_turns_off_both_directions_but_not_regrouping() {
    let server = ScriptedServer::start(vec![Reply::json(
        200,
        chat_completion("<think>r</think> answer"),
    )]);
    let m = support::model(&server)
        .log_model_io(false)
        .extract_thinking_from_response(false)
        .build()
        .unwrap();
    let messages = vec![
        ChatMessage::user("Hello <think>thought</think> world"),
        ChatMessage::tool("a", "1"),
        calls(&["a"]),
        ChatMessage::assistant("<think>thinking</think>Response"),
    ];
    let c = m.complete(&messages).await.unwrap();
    assert_eq!(c.content(), Some("<think>r</think> answer"));
    assert_eq!(c.message().unwrap().reasoning_content, None);
    assert_eq!(
        shape(&sent_messages(&server)),
        [
            "user:Hello <think>thought</think> world",
            "assistant[a]",
            "tool:a",
            "assistant:<think>thinking</think>Response",
        ]
    );
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn streamed_answers_keep_their_think_tags() {
    // Postprocessing is for whole answers; a stream is passed through as it arrives.
    let server = ScriptedServer::start(vec![Reply::sse(&support::sse_chunks(&[
        "<think>r</think>",
        " answer",
    ]))]);
    let stream = model(&server)
        .stream(&[ChatMessage::user("hi")])
        .await
        .unwrap();
    let c = stream.accumulate().await.unwrap();
    assert_eq!(c.content(), Some("<think>r</think> answer"));
}

/// Answers with think tags and records what it was asked.
struct Canned(std::sync::Mutex<Vec<Value>>);

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
impl openai_compatible::ChatClient for Canned {
    async fn create(&self, request: &Value) -> anyhow::Result<ChatCompletion> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(request.clone());
        Ok(serde_json::from_value(chat_completion(
            "<think>plan</think>done",
        ))?)
    }
}

#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn a_custom_client_gets_the_same_processing() {
    let client = std::sync::Arc::new(Canned(Default::default()));
    let m = OpenAICompatibleModel::builder("policy")
        .shared_client(client.clone())
        .log_model_io(false)
        .build()
        .unwrap();
    let c = m
        .complete(&[
            ChatMessage::assistant("<think>old</think>prior"),
            ChatMessage::user("go"),
        ])
        .await
        .unwrap();
    assert_eq!(c.content(), Some("done"));
    assert_eq!(
        c.message().unwrap().reasoning_content.as_deref(),
        Some("plan")
    );
    let seen = client.0.lock().unwrap().clone();
    assert_eq!(seen[0]["messages"][0]["content"], "prior");
}

/// The `messages` of the last request the server received.
fn last_sent(server: &ScriptedServer) -> Vec<Value> {
    let body = server.requests().last().unwrap().json();
    body["messages"].as_array().cloned().unwrap_or_default()
}

/// vLLM 0.16+ streams `delta.reasoning` and reads `reasoning` back (it drops
/// `reasoning_content`): an accumulated answer goes back under the server's name.
#[maybe_async::test(not(feature = "async"), async(feature = "async", tokio::test))]
async fn reasoning_goes_back_under_the_name_the_server_used() {
    let vllm_stream: Vec<String> = [
        json!({"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning": "two plus"}}]}),
        json!({"choices": [{"index": 0, "delta": {"reasoning": " two"}}]}),
        json!({"choices": [{"index": 0, "delta": {"content": "4"}, "finish_reason": "stop"}]}),
    ]
    .iter()
    .map(|c| format!("data: {c}\n\n"))
    .chain(["data: [DONE]\n\n".to_owned()])
    .collect();
    let server = ScriptedServer::start(vec![
        Reply::sse(&vllm_stream),
        Reply::json(200, chat_completion("ok")),
    ]);
    let m = model(&server);
    let question = ChatMessage::user("2 + 2?");
    let stream = m.stream(std::slice::from_ref(&question)).await.unwrap();
    let answer = stream.accumulate().await.unwrap();
    let said = answer.message().unwrap().clone();
    assert_eq!(said.reasoning(), Some("two plus two"));
    m.complete(&[
        question.clone(),
        said.clone(),
        ChatMessage::user("and 3 + 3?"),
    ])
    .await
    .unwrap();
    let sent = last_sent(&server);
    assert_eq!(sent[1]["reasoning"], "two plus two", "{}", sent[1]);
    assert!(sent[1].get("reasoning_content").is_none(), "{}", sent[1]);

    // A server that never named it gets CAMEL's name; the builder can force either.
    let server = ScriptedServer::always(Reply::json(200, chat_completion("ok")));
    let fresh = model(&server);
    fresh
        .complete(&[question.clone(), said.clone()])
        .await
        .unwrap();
    assert_eq!(last_sent(&server)[1]["reasoning_content"], "two plus two");
    let forced = support::model(&server)
        .reasoning_field(ReasoningField::Reasoning)
        .build()
        .unwrap();
    forced.complete(&[question, said]).await.unwrap();
    let sent = last_sent(&server);
    assert_eq!(sent[1]["reasoning"], "two plus two");
}
