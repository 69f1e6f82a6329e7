//! Under which name an assistant's reasoning goes back to the server.
//!
//! Servers disagree: DeepSeek, llama.cpp and CAMEL use `reasoning_content`; vLLM 0.16 and
//! later read `reasoning` on assistant messages sent back and silently drop
//! `reasoning_content` (vllm-project/vllm#38488). The crate reads both, and remembers per
//! model which one the server answered with, so a streamed or think-extracted answer (which
//! the crate holds as `reasoning_content`) returns under the server's own name. Pure: the
//! model owns the memory and feeds it answers.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU8, Ordering};

use serde_json::Value;

use crate::types::{ChatCompletion, ChatMessage, Delta, Role};

/// The field an assistant message's reasoning is sent back in (see
/// [`OpenAICompatibleModelBuilder::reasoning_field`](crate::OpenAICompatibleModelBuilder::reasoning_field)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReasoningField {
    /// `reasoning_content` (DeepSeek, llama.cpp, CAMEL; the default when nothing is known).
    ReasoningContent,
    /// `reasoning` (vLLM 0.16 and later, OpenRouter).
    Reasoning,
}

const UNKNOWN: u8 = 0;
const CONTENT: u8 = 1;
const REASONING: u8 = 2;

/// What a model has learned from its server's answers; shared by the model's clones.
#[derive(Debug, Default)]
pub(crate) struct ReasoningMemory(AtomicU8);

impl ReasoningMemory {
    /// The name to send reasoning back under: what the server used, else CAMEL's.
    pub(crate) fn field(&self) -> ReasoningField {
        match self.0.load(Ordering::Relaxed) {
            REASONING => ReasoningField::Reasoning,
            _ => ReasoningField::ReasoningContent,
        }
    }

    fn learn(&self, name: u8) {
        // The first answer that names one decides; a server does not switch names.
        let _ = self
            .0
            .compare_exchange(UNKNOWN, name, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn known(&self) -> bool {
        self.0.load(Ordering::Relaxed) != UNKNOWN
    }

    /// Learns from a whole answer (before think extraction, which fills
    /// `reasoning_content` itself).
    pub(crate) fn learn_from_completion(&self, completion: &ChatCompletion) {
        if self.known() {
            return;
        }
        for choice in &completion.choices {
            let m = &choice.message;
            if m.reasoning_content
                .as_deref()
                .is_some_and(|r| !r.is_empty())
            {
                return self.learn(CONTENT);
            }
            if m.extra.get("reasoning").and_then(Value::as_str).is_some() {
                return self.learn(REASONING);
            }
        }
    }

    /// Learns from one streamed delta.
    pub(crate) fn learn_from_delta(&self, delta: &Delta) {
        if self.known() {
            return;
        }
        if delta.reasoning_content.is_some() {
            self.learn(CONTENT);
        } else if delta.reasoning.is_some() {
            self.learn(REASONING);
        }
    }
}

/// Moves assistant messages' `reasoning_content` to `reasoning` when that is the server's
/// name (unless the message already has a `reasoning`); otherwise borrows them as they are.
pub(crate) fn send_as<'a>(
    messages: Cow<'a, [ChatMessage]>,
    field: ReasoningField,
) -> Cow<'a, [ChatMessage]> {
    let needs = |m: &ChatMessage| {
        m.role == Role::Assistant
            && m.reasoning_content.is_some()
            && !m.extra.contains_key("reasoning")
    };
    if field != ReasoningField::Reasoning || !messages.iter().any(needs) {
        return messages;
    }
    let mut owned = messages.into_owned();
    for m in owned.iter_mut().filter(|m| needs(m)) {
        if let Some(text) = m.reasoning_content.take() {
            m.extra.insert("reasoning".to_owned(), Value::String(text));
        }
    }
    Cow::Owned(owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn completion(message: Value) -> ChatCompletion {
        serde_json::from_value(json!({"choices": [{"index": 0, "message": message}]})).unwrap()
    }

    #[test]
    fn the_first_named_answer_decides_and_camels_name_is_the_default() {
        let memory = ReasoningMemory::default();
        assert_eq!(memory.field(), ReasoningField::ReasoningContent);
        memory.learn_from_completion(&completion(json!({"role": "assistant", "content": "x"})));
        assert_eq!(memory.field(), ReasoningField::ReasoningContent);
        memory.learn_from_completion(&completion(
            json!({"role": "assistant", "content": "x", "reasoning": "hm"}),
        ));
        assert_eq!(memory.field(), ReasoningField::Reasoning);
        let delta: Delta = serde_json::from_value(json!({"reasoning_content": "no"})).unwrap();
        memory.learn_from_delta(&delta);
        assert_eq!(memory.field(), ReasoningField::Reasoning);
    }

    #[test]
    fn reasoning_goes_back_under_the_servers_name() {
        let mut answer = ChatMessage::assistant("4");
        answer.reasoning_content = Some("2 + 2".into());
        let history = vec![ChatMessage::user("2 + 2?"), answer];
        let sent = send_as(Cow::Borrowed(&history), ReasoningField::Reasoning);
        let back = serde_json::to_value(&sent[1]).unwrap();
        assert_eq!(back["reasoning"], "2 + 2");
        assert!(back.get("reasoning_content").is_none(), "{back}");
        assert_eq!(sent[0], history[0]);
        let sent = send_as(Cow::Borrowed(&history), ReasoningField::ReasoningContent);
        assert!(matches!(sent, Cow::Borrowed(_)));
    }
}
