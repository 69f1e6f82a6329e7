//! Chaining state (docs/RESPONSES.md §3): per session, the last response id and the
//! messages it answered. Shared by a model's clones, safe across threads and tasks.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

/// The last answered turn of one session.
#[derive(Debug, Clone)]
struct Turn {
    response_id: String,
    /// The chat-form messages that response answered (as sent, before chaining cut them).
    answered: Vec<Value>,
}

/// Every session's state, and whether the server refused chaining.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    /// `None` is the model's default session.
    turns: Mutex<HashMap<Option<String>, Turn>>,
    /// The server refused `previous_response_id`: never chain again.
    refused: AtomicBool,
}

/// What a call may chain on.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    /// Messages already answered (sent only as `previous_response_id`).
    pub skip: usize,
    /// The response to continue from.
    pub previous_response_id: Option<String>,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<Option<String>, Turn>> {
        // A panic elsewhere while holding the lock leaves a map that is still consistent.
        self.turns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether chaining is still on for this model.
    pub(crate) fn chaining(&self) -> bool {
        !self.refused.load(Ordering::Relaxed)
    }

    /// How a call of `session` with `messages` may chain. A history that does not extend
    /// the answered one resets the session.
    pub(crate) fn plan(&self, session: Option<&str>, messages: &[Value]) -> Plan {
        if !self.chaining() {
            return Plan::default();
        }
        let key = session.map(str::to_owned);
        let mut turns = self.lock();
        match turns.get(&key) {
            Some(turn)
                if messages.len() > turn.answered.len()
                    && messages[..turn.answered.len()] == turn.answered[..] =>
            {
                Plan {
                    skip: turn.answered.len(),
                    previous_response_id: Some(turn.response_id.clone()),
                }
            }
            Some(_) => {
                turns.remove(&key);
                Plan::default()
            }
            None => Plan::default(),
        }
    }

    /// Records a completed (or incomplete) response of `session` that answered `messages`.
    pub(crate) fn save(&self, session: Option<&str>, response_id: &str, messages: Vec<Value>) {
        if !self.chaining() || response_id.is_empty() {
            return;
        }
        self.lock().insert(
            session.map(str::to_owned),
            Turn {
                response_id: response_id.to_owned(),
                answered: messages,
            },
        );
    }

    /// Forgets `session` (a call with `store: false`).
    pub(crate) fn clear(&self, session: Option<&str>) {
        self.lock().remove(&session.map(str::to_owned));
    }

    /// The server refused `previous_response_id`: stop chaining for good. True the first
    /// time only (so the warning is given once).
    pub(crate) fn refuse(&self) -> bool {
        let first = !self.refused.swap(true, Ordering::Relaxed);
        self.lock().clear();
        first
    }
}

/// Whether an error is a server refusing `previous_response_id` (llama.cpp: `400 llama.cpp
/// does not support 'previous_response_id'.`).
pub(crate) fn refuses_chaining(error: &crate::Error) -> bool {
    match error {
        crate::Error::Api(api) => {
            api.status == Some(400)
                && (api.message.contains("previous_response_id")
                    || api.body.contains("previous_response_id"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn extension_reset_and_refusal() {
        let s = Sessions::default();
        let a = vec![json!({"role": "user", "content": "a"})];
        assert_eq!(s.plan(None, &a), Plan::default());
        s.save(None, "r1", a.clone());
        let mut b = a.clone();
        b.push(json!({"role": "assistant", "content": "x"}));
        b.push(json!({"role": "user", "content": "b"}));
        assert_eq!(
            s.plan(None, &b),
            Plan {
                skip: 1,
                previous_response_id: Some("r1".into())
            }
        );
        // Another session knows nothing; the same messages again are no extension.
        assert_eq!(s.plan(Some("u"), &b), Plan::default());
        assert_eq!(s.plan(None, &a), Plan::default());
        assert_eq!(s.plan(None, &b), Plan::default(), "the reset forgot r1");
        s.save(None, "r2", a.clone());
        assert!(s.refuse());
        assert!(!s.refuse());
        assert_eq!(s.plan(None, &b), Plan::default());
    }
}
