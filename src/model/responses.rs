//! Responses mode in the model (docs/RESPONSES.md): when the pure translation of
//! `crate::responses` runs, and what chaining saves. Everything else — sending, retries,
//! errors, logs, spans — is the chat path's, which calls [`wire`](OpenAICompatibleModel::wire)
//! before sending and [`decode`](OpenAICompatibleModel::decode) after.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::OpenAICompatibleModel;
use crate::decode;
use crate::error::{Error, Result};
use crate::request::Prepared;
use crate::responses::answer;
use crate::responses::request::{self as translate, Chain};
use crate::responses::session::{self, Sessions};
use crate::stream::{ChatCompletionStream, StreamEnd};
use crate::types::{ApiMode, ChatCompletion};

/// A request as it goes on the wire, and what its answer teaches the session.
pub(super) struct Wire<'p> {
    pub(super) prepared: Cow<'p, Prepared>,
    /// `Some` in Responses mode when the answer is to be saved for chaining.
    turn: Option<Turn>,
    /// `previous_response_id` was sent.
    chained: bool,
}

/// What a chained session remembers of this call.
struct Turn {
    session: Option<String>,
    /// The call's whole history, chat form.
    messages: Vec<Value>,
}

impl Wire<'_> {
    /// Whether `error` is the server refusing the `previous_response_id` this request sent.
    pub(super) fn refused(&self, error: &Error) -> bool {
        self.chained && session::refuses_chaining(error)
    }

    /// Saves a successful answer's id for the session's next call.
    pub(super) fn answered(self, sessions: &Sessions, response_id: &str) {
        if let Some(turn) = self.turn {
            sessions.save(turn.session.as_deref(), response_id, turn.messages);
        }
    }

    /// `stream`, saving its id for the session when it reaches its final event (a failed
    /// or cut stream saves nothing).
    pub(super) fn saving(
        self,
        sessions: &Arc<Sessions>,
        stream: ChatCompletionStream,
    ) -> ChatCompletionStream {
        let Some(turn) = self.turn else {
            return stream;
        };
        let sessions = sessions.clone();
        stream.observe(Box::new(move |outcome| {
            let finished = outcome
                .completion
                .choices
                .iter()
                .any(|c| c.finish_reason.is_some());
            if finished && !matches!(outcome.end, StreamEnd::Failed(_)) {
                sessions.save(
                    turn.session.as_deref(),
                    &outcome.completion.id,
                    turn.messages,
                );
            }
        }))
    }
}

impl OpenAICompatibleModel {
    /// The request to send: `prepared` itself in chat mode (or for a custom client, which
    /// gets the chat form), else its Responses translation with the session's chaining.
    pub(super) fn wire<'p>(&self, prepared: &'p Prepared) -> Result<Wire<'p>> {
        if self.api_mode != ApiMode::Responses || self.client.is_some() {
            return Ok(Wire {
                prepared: Cow::Borrowed(prepared),
                turn: None,
                chained: false,
            });
        }
        let chat: Map<String, Value> = serde_json::from_slice(&prepared.body)
            .map_err(|e| Error::InvalidInput(format!("the request body is not JSON: {e}")))?;
        let session = prepared.session.as_deref();
        let messages = match chat.get("messages") {
            Some(Value::Array(m)) => m.clone(),
            _ => Vec::new(),
        };
        let (plan, turn) = if translate::store_off(&chat) {
            // Nothing is stored, so there is nothing to continue from later.
            self.sessions.clear(session);
            (Default::default(), None)
        } else {
            let plan = self.sessions.plan(session, &messages);
            let turn = self.sessions.chaining().then(|| Turn {
                session: prepared.session.clone(),
                messages,
            });
            (plan, turn)
        };
        let chain = Chain {
            skip: plan.skip,
            previous_response_id: plan.previous_response_id.as_deref(),
        };
        let body = serde_json::to_vec(&translate::translate(&chat, &chain))
            .map_err(|e| Error::InvalidInput(format!("the request cannot be serialized: {e}")))?;
        Ok(Wire {
            prepared: Cow::Owned(Prepared {
                body,
                api_mode: ApiMode::Responses,
                ..prepared.clone()
            }),
            turn,
            chained: chain.previous_response_id.is_some(),
        })
    }

    /// The server refused `previous_response_id`: no more chaining for this model (and
    /// its clones), said once.
    pub(super) fn stop_chaining(&self) {
        if self.sessions.refuse() {
            tracing::warn!(
                model = %self.model_type,
                "the server refuses previous_response_id: sending whole histories from now on"
            );
        }
    }

    /// A successful body as a completion, in the request's protocol.
    pub(super) fn decode(&self, prepared: &Prepared, body: &[u8]) -> Result<ChatCompletion> {
        match prepared.api_mode {
            ApiMode::Responses => answer::completion(body, &self.model_type, self.secret()),
            _ => decode::completion(body, self.secret()),
        }
    }
}
