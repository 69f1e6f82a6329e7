//! The send/retry loop (docs/SPEC.md §3): attempt after attempt until an answer, a final
//! error, or the end of the retries.
//!
//! Plain requests and streams have their own typed entry points, [`send_plain`] and
//! [`send_stream`]; what they share — the URL, the headers, and what to do after an error
//! status or a failed attempt — lives in [`Exchange`]. Streams are retried only until their
//! head arrives.
//!
//! [`send_plain`]: OpenAICompatibleModel::send_plain
//! [`send_stream`]: OpenAICompatibleModel::send_stream

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::builder::set_header;
use super::OpenAICompatibleModel;
use crate::config;
use crate::error::{ApiError, Error, Result};
use crate::request::Prepared;
use crate::retry::{self, Decision, Delays};
use crate::structured;
use crate::transport::{self, Endpoint, Head, Headers, HttpRequest, StreamBody, TransportError};
use crate::types::{MetaSlot, ResponseMeta};

/// One request on its way: what every attempt sends, and the retry state.
struct Exchange<'a> {
    model: &'a OpenAICompatibleModel,
    url: Cow<'a, Endpoint>,
    headers: Cow<'a, Headers>,
    body: &'a [u8],
    timeout: Duration,
    /// Of each attempt's connection; never more than `timeout`.
    connect_timeout: Duration,
    max_retries: u32,
    /// A format rejection goes to the caller's json_object fallback, not to a retry.
    format_fallback: bool,
    delays: Delays,
    /// 0 for the first attempt, then the retries made so far.
    attempt: u32,
    started: Instant,
}

impl<'a> Exchange<'a> {
    fn new(model: &'a OpenAICompatibleModel, prepared: &'a Prepared) -> Exchange<'a> {
        let url = if prepared.query.is_empty() {
            Cow::Borrowed(model.urls.of(prepared.api_mode))
        } else {
            let mut query = model.default_query.clone();
            query.extend(prepared.query.iter().cloned());
            Cow::Owned(Endpoint::new(config::endpoint(
                &model.base_url,
                prepared.endpoint(),
                &query,
            )))
        };
        // The model's headers as they are unless this call adds some (the transport adds
        // the retry count).
        let headers = if prepared.headers.is_empty() {
            Cow::Borrowed(&model.wire_headers)
        } else {
            let mut headers = model.headers.clone();
            for (k, v) in &prepared.headers {
                set_header(&mut headers, k, v);
            }
            Cow::Owned(Headers::new(&headers))
        };
        let timeout = prepared.timeout.unwrap_or(model.timeout);
        Exchange {
            model,
            url,
            headers,
            body: &prepared.body,
            timeout,
            connect_timeout: prepared
                .connect_timeout
                .unwrap_or(model.connect_timeout)
                .min(timeout),
            max_retries: prepared.max_retries.unwrap_or(model.max_retries),
            format_fallback: prepared.format_fallback,
            delays: Delays::new(),
            attempt: 0,
            started: Instant::now(),
        }
    }

    fn request(&self) -> HttpRequest<'_> {
        HttpRequest {
            url: &self.url,
            headers: &self.headers,
            attempt: self.attempt,
            body: self.body,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            max_body: self.model.max_response_bytes,
        }
    }

    fn can_retry(&self) -> bool {
        self.attempt < self.max_retries
    }

    /// The metadata of the response whose head is `head`, as the caller will see it.
    fn meta(&self, head: Head) -> ResponseMeta {
        ResponseMeta::new(
            head.status,
            head.headers,
            self.attempt + 1,
            self.started.elapsed(),
            self.model.secret(),
        )
    }

    fn succeeded(&self, head: Head) -> ResponseMeta {
        tracing::debug!(attempt = self.attempt, status = head.status, "response");
        self.meta(head)
    }
}

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
impl Exchange<'_> {
    /// After an error status: waits and returns `Ok` when the request should be sent again,
    /// else the API error (with the refused location of a redirect).
    async fn after_status(&mut self, head: Head, body: &[u8]) -> Result<()> {
        let format_rejected =
            self.format_fallback && head.status >= 400 && structured::names_response_format(body);
        let decision = if self.can_retry() && !format_rejected {
            retry::decide_status(
                head.status,
                &head.headers,
                &mut self.delays,
                SystemTime::now(),
            )
        } else {
            Decision::Stop
        };
        tracing::debug!(
            attempt = self.attempt,
            status = head.status,
            retry = matches!(decision, Decision::Retry(_)),
            "error response"
        );
        match decision {
            Decision::Retry(delay) => {
                tracing::warn!(
                    attempt = self.attempt,
                    status = head.status,
                    delay_ms = delay.as_millis() as u64,
                    reason = "status",
                    "retrying"
                );
                transport::sleep(delay).await;
                self.attempt += 1;
                Ok(())
            }
            Decision::Stop => {
                let secret = self.model.secret();
                let mut api = ApiError::from_body(
                    Some(head.status),
                    body,
                    head.header("x-request-id").map(str::to_owned),
                    secret,
                );
                if (300..400).contains(&head.status) {
                    api.refused_redirect(head.header("location"), secret);
                }
                api.meta = MetaSlot(Some(Arc::new(self.meta(head))));
                Err(Error::Api(Box::new(api)))
            }
        }
    }

    /// After an attempt that got no response: waits and returns `Ok` when a retry may help,
    /// else the error.
    async fn after_failure(&mut self, failure: TransportError) -> Result<()> {
        let attempt = self.attempt;
        if !(failure.retryable && self.can_retry()) {
            tracing::debug!(attempt, error = %failure.error, retryable = failure.retryable, "request failed");
            let mut error = failure.error;
            error.set_attempts(attempt + 1);
            return Err(error);
        }
        let delay = self.delays.next();
        tracing::debug!(attempt, error = %failure.error, "request failed");
        tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, reason = %failure.error, "retrying");
        transport::sleep(delay).await;
        self.attempt += 1;
        Ok(())
    }
}

#[cfg_attr(feature = "async", maybe_async::must_be_async)]
#[cfg_attr(not(feature = "async"), maybe_async::must_be_sync)]
impl OpenAICompatibleModel {
    /// A non-stream request: the metadata and whole body of the first successful attempt.
    pub(super) async fn send_plain(&self, prepared: &Prepared) -> Result<(ResponseMeta, Vec<u8>)> {
        let mut exchange = Exchange::new(self, prepared);
        loop {
            match self.http.execute(&exchange.request()).await {
                Ok((head, body)) if head.is_success() => {
                    return Ok((exchange.succeeded(head), body));
                }
                Ok((head, body)) => exchange.after_status(head, &body).await?,
                Err(failure) => exchange.after_failure(failure).await?,
            }
        }
    }

    /// A stream request: the metadata of the first successful attempt and its unread body.
    pub(super) async fn send_stream(
        &self,
        prepared: &Prepared,
    ) -> Result<(ResponseMeta, StreamBody)> {
        let mut exchange = Exchange::new(self, prepared);
        loop {
            match self.http.open(&exchange.request()).await {
                Ok((head, body)) if head.is_success() => {
                    return Ok((exchange.succeeded(head), body));
                }
                Ok((head, body)) => {
                    // An error body is short; if it cannot be read, the status alone still
                    // says what happened.
                    let bytes = body.read_rest().await.unwrap_or_default();
                    exchange.after_status(head, &bytes).await?
                }
                Err(failure) => exchange.after_failure(failure).await?,
            }
        }
    }
}
