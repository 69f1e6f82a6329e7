//! Message processing around a request (docs/SPEC.md §5): `<think>` blocks in and out, and tool-call
//! regrouping. Pure functions; [`OpenAICompatibleModel`](crate::OpenAICompatibleModel)
//! applies them on every request, and they are public so a framework can apply the same
//! rules to its own history.
//!
//! * **In** ([`preprocess_messages`]): reasoning models answer with `<think>…</think>`
//!   blocks; sent back in the history they waste context and confuse some chat templates,
//!   so they are removed from user and assistant text. Tool results are moved to follow the
//!   assistant message that called them, as every server requires.
//! * **Out** ([`extract_thinking`]): a completion whose text holds `<think>` blocks gets the
//!   first block's text as `reasoning_content`, and the blocks removed from the answer.
//!
//! Both think-tag directions follow CAMEL's rules exactly (non-greedy, across lines, only
//! when both tags are present, then trim). Regrouping differs on purpose: CAMEL's single
//! pass reorders some valid conversations (two tool rounds, for example); here a
//! conversation that is already valid is returned as it is.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::types::{ChatCompletion, ChatMessage, Content, Role};

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// Removes every `<think>…</think>` block from `text`, then trims it.
///
/// Matching is non-greedy and spans lines: each `<think>` pairs with the first `</think>`
/// after it. Only when both tags occur in the text is anything removed (and the result
/// trimmed); otherwise the text comes back unchanged, surrounding whitespace included.
///
/// ```
/// use openai_compatible::processing::strip_think_tags;
///
/// assert_eq!(strip_think_tags("Hello <think>x</think> world"), "Hello  world");
/// assert_eq!(strip_think_tags("<think>a\nb</think>\n\nAnswer"), "Answer");
/// assert_eq!(strip_think_tags(" no tags "), " no tags ");
/// ```
pub fn strip_think_tags(text: &str) -> String {
    strip(text).map_or_else(|| text.to_owned(), |(stripped, _)| stripped)
}

/// `None` when `text` does not hold both tags (nothing to do). Otherwise the text without
/// its blocks, trimmed, and the trimmed inner text of the first block.
fn strip(text: &str) -> Option<(String, &str)> {
    if !text.contains(OPEN) || !text.contains(CLOSE) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut first: Option<&str> = None;
    let mut rest = text;
    while let Some(open) = rest.find(OPEN) {
        let inner_start = open + OPEN.len();
        // A `<think>` without a `</think>` after it ends the matching: no later `<think>`
        // can have one either.
        let Some(close) = rest[inner_start..].find(CLOSE) else {
            break;
        };
        let inner = &rest[inner_start..inner_start + close];
        first.get_or_insert(inner);
        out.push_str(&rest[..open]);
        rest = &rest[inner_start + close + CLOSE.len()..];
    }
    out.push_str(rest);
    Some((out.trim().to_owned(), first.unwrap_or("").trim()))
}

/// Prepares a conversation for sending: [`strip_think_tags`] on the string content of user
/// and assistant messages, then [`regroup_tool_calls`].
///
/// System, developer and tool messages, and content made of parts, are left alone. The
/// input is never modified; when nothing needs to change, it is borrowed back without a
/// copy.
///
/// ```
/// use openai_compatible::processing::preprocess_messages;
/// use openai_compatible::ChatMessage;
///
/// let history = [ChatMessage::user("Hi"), ChatMessage::assistant("<think>greet</think>Hello!")];
/// let sent = preprocess_messages(&history);
/// assert_eq!(sent[1].text().as_deref(), Some("Hello!"));
/// assert_eq!(history[1].text().as_deref(), Some("<think>greet</think>Hello!"));
/// ```
pub fn preprocess_messages(messages: &[ChatMessage]) -> Cow<'_, [ChatMessage]> {
    process(messages, true)
}

/// Puts every tool result right after the assistant message that made the call, in the
/// order of its calls (docs/SPEC.md §5).
///
/// * A result that came before its call moves after it.
/// * A result whose call is nowhere in the conversation goes to the end.
/// * A call without a result stays as it is (the server will say what it thinks).
/// * A conversation that already has this shape — including one with several tool rounds —
///   is returned unchanged, borrowed.
///
/// Results are matched to calls by id. When a server reuses ids across rounds (`call_0`
/// every time), a result belongs to the nearest unanswered call with its id before it, or
/// failing that, the first one after it.
pub fn regroup_tool_calls(messages: &[ChatMessage]) -> Cow<'_, [ChatMessage]> {
    process(messages, false)
}

/// What the model does before every request: think tags removed when `strip_thinking`,
/// tool calls regrouped always.
pub(crate) fn process(messages: &[ChatMessage], strip_thinking: bool) -> Cow<'_, [ChatMessage]> {
    // Allocated only when a message changes: most requests have no think tags.
    let mut stripped: Vec<Option<String>> = Vec::new();
    if strip_thinking {
        for (i, m) in messages.iter().enumerate() {
            if let Some(s) = stripped_content(m) {
                if stripped.is_empty() {
                    stripped.resize(messages.len(), None);
                }
                stripped[i] = Some(s);
            }
        }
    }
    let order = regroup_order(messages);
    let content_changed = stripped.iter().any(Option::is_some);
    let Some(order) = order.filter(|o| !is_identity(o)) else {
        if !content_changed {
            return Cow::Borrowed(messages);
        }
        return Cow::Owned(
            messages
                .iter()
                .zip(stripped)
                .map(|(m, s)| with_content(m, s))
                .collect(),
        );
    };
    Cow::Owned(
        order
            .into_iter()
            .map(|i| {
                let s = stripped.get_mut(i).and_then(Option::take);
                with_content(&messages[i], s)
            })
            .collect(),
    )
}

fn stripped_content(m: &ChatMessage) -> Option<String> {
    if !matches!(m.role, Role::User | Role::Assistant) {
        return None;
    }
    match &m.content {
        Some(Content::Text(t)) => strip(t).map(|(s, _)| s).filter(|s| s != t),
        _ => None,
    }
}

fn with_content(m: &ChatMessage, content: Option<String>) -> ChatMessage {
    match content {
        Some(text) => ChatMessage {
            content: Some(Content::Text(text)),
            ..m.clone()
        },
        None => m.clone(),
    }
}

fn is_identity(order: &[usize]) -> bool {
    order.iter().enumerate().all(|(pos, &i)| pos == i)
}

fn is_result(m: &ChatMessage) -> bool {
    m.role == Role::Tool && m.tool_call_id.is_some()
}

fn calls_of(m: &ChatMessage) -> &[crate::types::ToolCall] {
    match (&m.role, &m.tool_calls) {
        (Role::Assistant, Some(calls)) => calls,
        _ => &[],
    }
}

/// The regrouped order as indices into `messages`, or `None` when there are no tool
/// results at all (the common case: no work).
fn regroup_order(messages: &[ChatMessage]) -> Option<Vec<usize>> {
    if !messages.iter().any(is_result) {
        return None;
    }
    // Every call, by id: (message index, position in its message), in conversation order.
    let mut calls_by_id: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        for (pos, call) in calls_of(m).iter().enumerate() {
            calls_by_id.entry(&call.id).or_default().push((i, pos));
        }
    }
    // answers[(message, call position)] = index of the result answering it.
    let mut answers: HashMap<(usize, usize), usize> = HashMap::new();
    let mut placed = vec![false; messages.len()];
    for (r, m) in messages.iter().enumerate() {
        let Some(id) = m.tool_call_id.as_deref().filter(|_| is_result(m)) else {
            continue;
        };
        let Some(calls) = calls_by_id.get(id) else {
            continue;
        };
        let open = |c: &&(usize, usize)| !answers.contains_key(c);
        let call = calls
            .iter()
            .filter(|c| c.0 < r)
            .rfind(open)
            .or_else(|| calls.iter().filter(|c| c.0 > r).find(open))
            .copied();
        if let Some(call) = call {
            answers.insert(call, r);
            placed[r] = true;
        }
    }
    let mut order = Vec::with_capacity(messages.len());
    let mut orphans = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        if is_result(m) {
            if !placed[i] {
                orphans.push(i);
            }
            continue;
        }
        order.push(i);
        for pos in 0..calls_of(m).len() {
            if let Some(&r) = answers.get(&(i, pos)) {
                order.push(r);
            }
        }
    }
    order.extend(orphans);
    Some(order)
}

/// Moves `<think>` blocks out of the answer text (docs/SPEC.md §5, postprocess).
///
/// For every choice whose `reasoning_content` is empty and whose string content holds
/// both tags: the first block's trimmed text becomes `reasoning_content` (unless it is
/// empty), every block is removed, and the content is trimmed. Other choices are left
/// alone.
///
/// ```
/// use openai_compatible::processing::extract_thinking;
/// use openai_compatible::ChatCompletion;
///
/// let mut c: ChatCompletion = serde_json::from_value(serde_json::json!({"choices": [{
///     "index": 0, "finish_reason": "stop",
///     "message": {"role": "assistant", "content": "<think>first</think> middle <think>second</think> end"}
/// }]})).unwrap();
/// extract_thinking(&mut c);
/// assert_eq!(c.content(), Some("middle  end"));
/// assert_eq!(c.message().unwrap().reasoning_content.as_deref(), Some("first"));
/// ```
pub fn extract_thinking(completion: &mut ChatCompletion) {
    for choice in &mut completion.choices {
        let m = &mut choice.message;
        if m.reasoning_content
            .as_deref()
            .is_some_and(|r| !r.is_empty())
        {
            continue;
        }
        let Some(Content::Text(text)) = &m.content else {
            continue;
        };
        let Some((content, reasoning)) = strip(text) else {
            continue;
        };
        if !reasoning.is_empty() {
            m.reasoning_content = Some(reasoning.to_owned());
        }
        m.content = Some(Content::Text(content));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ToolCall;
    use serde_json::json;

    fn call(id: &str) -> ToolCall {
        ToolCall::function(id, "f", "{}")
    }

    fn calls(ids: &[&str]) -> ChatMessage {
        ChatMessage::assistant_tool_calls(ids.iter().map(|id| call(id)).collect())
    }

    /// A compact picture of a conversation: `u:text`, `a:text`, `a[ids]`, `t:id`, `s:text`.
    fn shape(messages: &[ChatMessage]) -> Vec<String> {
        messages
            .iter()
            .map(|m| match m.role {
                Role::Tool => format!("t:{}", m.tool_call_id.as_deref().unwrap_or("-")),
                Role::Assistant if m.tool_calls.is_some() => {
                    let ids: Vec<&str> = calls_of(m).iter().map(|c| c.id.as_str()).collect();
                    format!("a[{}]", ids.join(","))
                }
                _ => format!("{}:{}", &m.role.as_str()[..1], m.text().unwrap_or_default()),
            })
            .collect()
    }

    #[test]
    fn camel_think_tag_examples() {
        assert_eq!(
            strip_think_tags("Hello <think>thinking about response</think> world"),
            "Hello  world"
        );
        assert_eq!(
            strip_think_tags("<think>Let me think...\nThinking more...</think>Response"),
            "Response"
        );
        assert_eq!(strip_think_tags("plain message"), "plain message");
        assert_eq!(
            strip_think_tags("Start <think>Think</think>End"),
            "Start End"
        );
        assert_eq!(
            strip_think_tags("Before<think></think>After"),
            "BeforeAfter"
        );
        assert_eq!(
            strip_think_tags(
                "Start <think>First thought</think> middle <think>Second thought</think> end"
            ),
            "Start  middle  end"
        );
        assert_eq!(strip_think_tags("<think>x</think>"), "");
    }

    #[test]
    fn only_both_tags_trigger_and_matching_is_non_greedy() {
        // One tag alone: untouched, not even trimmed.
        assert_eq!(strip_think_tags("  <think> open  "), "  <think> open  ");
        assert_eq!(strip_think_tags(" close</think> "), " close</think> ");
        // Both present but in the wrong order: nothing removed, still trimmed (as CAMEL).
        assert_eq!(
            strip_think_tags(" </think> a <think> "),
            "</think> a <think>"
        );
        // Nested: the first close ends the first block.
        assert_eq!(
            strip_think_tags("<think>a<think>b</think>c</think>d"),
            "c</think>d"
        );
        // A trailing unclosed block is kept.
        assert_eq!(
            strip_think_tags("<think>x</think> y <think>z"),
            "y <think>z"
        );
        // Multi-byte text around and inside the tags.
        assert_eq!(
            strip_think_tags("你好<think>思考…</think>世界 🌍"),
            "你好世界 🌍"
        );
    }

    #[test]
    fn strip_never_panics_on_odd_input() {
        for s in [
            "",
            "<",
            "<think",
            "</think><think>",
            "<think></think",
            "<think><think></think></think></think>",
            "é<think>\u{0}</think>é",
        ] {
            let _ = strip_think_tags(s);
        }
    }

    #[test]
    fn preprocess_strips_user_and_assistant_only() {
        let mut parts =
            ChatMessage::user_parts(vec![crate::types::ContentPart::text("<think>x</think>y")]);
        parts.name = Some("p".into());
        let msgs = vec![
            ChatMessage::system("System <think>thinking</think> message"),
            ChatMessage::user("Hello <think>hi</think> world"),
            ChatMessage::assistant("<think>t</think>Response"),
            parts.clone(),
            ChatMessage::tool("c", "<think>kept</think>"),
        ];
        let out = preprocess_messages(&msgs);
        assert!(matches!(out, Cow::Owned(_)));
        assert_eq!(
            shape(&out),
            [
                "s:System <think>thinking</think> message",
                "u:Hello  world",
                "a:Response",
                "u:<think>x</think>y",
                "t:c"
            ]
        );
        assert_eq!(out[3], parts);
        assert_eq!(out[4].text().as_deref(), Some("<think>kept</think>"));
        // The caller's messages are untouched.
        assert_eq!(
            msgs[1].text().as_deref(),
            Some("Hello <think>hi</think> world")
        );
    }

    #[test]
    fn nothing_to_do_borrows() {
        let msgs = vec![
            ChatMessage::user("Hello world"),
            ChatMessage::assistant("Hi"),
        ];
        assert!(matches!(preprocess_messages(&msgs), Cow::Borrowed(_)));
        let msgs = vec![ChatMessage::user(" <think> only one tag ")];
        assert!(matches!(preprocess_messages(&msgs), Cow::Borrowed(_)));
        assert!(matches!(preprocess_messages(&[]), Cow::Borrowed(_)));
        // With stripping off, think tags stay and nothing is copied.
        let msgs = vec![ChatMessage::user("a <think>b</think>")];
        assert!(matches!(process(&msgs, false), Cow::Borrowed(_)));
    }

    #[test]
    fn valid_conversations_are_unchanged_including_two_tool_rounds() {
        let msgs = vec![
            ChatMessage::user("weather?"),
            calls(&["a"]),
            ChatMessage::tool("a", "72"),
            ChatMessage::user("time and date?"),
            calls(&["b", "c"]),
            ChatMessage::tool("b", "10:30"),
            ChatMessage::tool("c", "04-15"),
            ChatMessage::assistant("done"),
        ];
        assert!(matches!(preprocess_messages(&msgs), Cow::Borrowed(_)));
        // Reused ids across rounds (servers that number calls per answer).
        let msgs = vec![
            ChatMessage::user("q"),
            calls(&["call_0"]),
            ChatMessage::tool("call_0", "1"),
            calls(&["call_0"]),
            ChatMessage::tool("call_0", "2"),
            ChatMessage::assistant("done"),
        ];
        assert!(matches!(preprocess_messages(&msgs), Cow::Borrowed(_)));
    }

    #[test]
    fn result_before_its_call_moves_after_it_in_call_order() {
        let msgs = vec![
            ChatMessage::user("weather and time?"),
            ChatMessage::tool("a", "72"),
            calls(&["a", "b"]),
            ChatMessage::tool("b", "10:30"),
            ChatMessage::assistant("sunny, 10:30"),
        ];
        let out = preprocess_messages(&msgs);
        assert_eq!(
            shape(&out),
            [
                "u:weather and time?",
                "a[a,b]",
                "t:a",
                "t:b",
                "a:sunny, 10:30"
            ]
        );
        // Results out of call order, or separated from their call, are put in place.
        let msgs = vec![
            calls(&["a", "b"]),
            ChatMessage::user("between"),
            ChatMessage::tool("b", "2"),
            ChatMessage::tool("a", "1"),
        ];
        assert_eq!(
            shape(&preprocess_messages(&msgs)),
            ["a[a,b]", "t:a", "t:b", "u:between"]
        );
    }

    #[test]
    fn orphan_results_go_to_the_end_and_missing_results_stay_missing() {
        let msgs = vec![
            ChatMessage::user("weather?"),
            ChatMessage::tool("ghost", "72"),
            ChatMessage::assistant("72F"),
        ];
        assert_eq!(
            shape(&preprocess_messages(&msgs)),
            ["u:weather?", "a:72F", "t:ghost"]
        );
        let msgs = vec![
            ChatMessage::user("weather and time?"),
            calls(&["a", "b"]),
            ChatMessage::tool("a", "72"),
            ChatMessage::assistant("72F"),
        ];
        assert!(matches!(preprocess_messages(&msgs), Cow::Borrowed(_)));
        // A second result for the same call is an orphan.
        let msgs = vec![
            calls(&["a"]),
            ChatMessage::tool("a", "1"),
            ChatMessage::tool("a", "again"),
            ChatMessage::user("u"),
        ];
        let out = preprocess_messages(&msgs);
        assert_eq!(shape(&out), ["a[a]", "t:a", "u:u", "t:a"]);
        assert_eq!(out[3].text().as_deref(), Some("again"));
    }

    #[test]
    fn regrouping_and_stripping_combine() {
        let msgs = vec![
            ChatMessage::user("What is the weather <think>in New York</think>?"),
            ChatMessage::tool("a", "72"),
            ChatMessage {
                content: Some(Content::Text("<think>check</think>".into())),
                ..calls(&["a"])
            },
            ChatMessage::assistant("<think>Format nicely</think>The weather is 72°F."),
        ];
        let out = preprocess_messages(&msgs);
        assert_eq!(
            shape(&out),
            [
                "u:What is the weather ?",
                "a[a]",
                "t:a",
                "a:The weather is 72°F."
            ]
        );
        assert_eq!(out[1].text().as_deref(), Some(""));
        assert_eq!(out[1].tool_calls, msgs[2].tool_calls);
        // Regrouping alone keeps the tags.
        let out = regroup_tool_calls(&msgs);
        assert_eq!(out[1].text().as_deref(), Some("<think>check</think>"));
        assert_eq!(shape(&out)[2], "t:a");
    }

    #[test]
    fn tool_messages_without_call_id_stay_in_place() {
        let mut bare = ChatMessage::new(Role::Tool, "legacy");
        bare.tool_call_id = None;
        let msgs = vec![ChatMessage::user("u"), bare, ChatMessage::assistant("a")];
        assert!(matches!(preprocess_messages(&msgs), Cow::Borrowed(_)));
    }

    fn completion(content: Value, reasoning: Option<&str>) -> ChatCompletion {
        let mut message = json!({"role": "assistant", "content": content});
        if let Some(r) = reasoning {
            message["reasoning_content"] = json!(r);
        }
        serde_json::from_value(
            json!({"choices": [{"index": 0, "finish_reason": "stop", "message": message}]}),
        )
        .unwrap()
    }

    use serde_json::Value;

    #[test]
    fn extract_thinking_camel_examples() {
        let mut c = completion(
            json!("<think>first</think> middle <think>second</think> end"),
            None,
        );
        extract_thinking(&mut c);
        assert_eq!(c.content(), Some("middle  end"));
        assert_eq!(
            c.choices[0].message.reasoning_content.as_deref(),
            Some("first")
        );

        let mut c = completion(json!("<think>reasoning here</think>\n\n4"), None);
        extract_thinking(&mut c);
        assert_eq!(c.content(), Some("4"));
        assert_eq!(
            c.choices[0].message.reasoning_content.as_deref(),
            Some("reasoning here")
        );

        let mut c = completion(json!("<think>\nline1\nline2\n</think>\n\nanswer"), None);
        extract_thinking(&mut c);
        assert_eq!(c.content(), Some("answer"));
        assert_eq!(
            c.choices[0].message.reasoning_content.as_deref(),
            Some("line1\nline2")
        );
    }

    #[test]
    fn extract_thinking_leaves_what_it_should() {
        let mut c = completion(json!("just a normal response "), None);
        let before = c.clone();
        extract_thinking(&mut c);
        assert_eq!(c, before);

        // Reasoning already set: content kept verbatim.
        let mut c = completion(json!("<think>in content</think>\n\n4"), Some("already set"));
        let before = c.clone();
        extract_thinking(&mut c);
        assert_eq!(c, before);

        // An empty reasoning_content counts as unset.
        let mut c = completion(json!("<think>r</think>a"), Some(""));
        extract_thinking(&mut c);
        assert_eq!(c.choices[0].message.reasoning_content.as_deref(), Some("r"));

        // An empty block removes the tags but sets no reasoning.
        let mut c = completion(json!("<think> </think> answer"), None);
        extract_thinking(&mut c);
        assert_eq!(c.content(), Some("answer"));
        assert_eq!(c.choices[0].message.reasoning_content, None);

        // Parts and missing content are left alone.
        let mut c = completion(json!([{"type": "text", "text": "<think>x</think>y"}]), None);
        let before = c.clone();
        extract_thinking(&mut c);
        assert_eq!(c, before);
        let mut c = completion(Value::Null, None);
        extract_thinking(&mut c);
        assert_eq!(c.content(), None);
    }

    #[test]
    fn extract_thinking_handles_every_choice() {
        let mut c: ChatCompletion = serde_json::from_value(json!({"choices": [
            {"index": 0, "message": {"content": "<think>a</think>A"}},
            {"index": 1, "message": {"content": "<think>b</think>B"}}
        ]}))
        .unwrap();
        extract_thinking(&mut c);
        assert_eq!(c.choices[1].message.text().as_deref(), Some("B"));
        assert_eq!(c.choices[1].message.reasoning_content.as_deref(), Some("b"));
    }
}
