//! The HTTP layer both adapters share: URLs, headers, timeouts, the response size cap, retries
//! before output, and the mapping of every transport failure to an [`LlmError`] in one place.
//!
//! Guarantees:
//! - Timeouts: connect comes from the endpoint's `reqwest::Client` (the registry builds it with
//!   `Timeouts::connect_ms`); first byte, idle between chunks and total are enforced here around
//!   the request and every body read, whatever the client is configured with.
//! - A response body larger than [`MAX_RESPONSE_BYTES`] is cut with `MalformedResponse`.
//! - Errors never carry a URL (`without_url`), a header, or a raw body (see [`super::redact`]).
//! - An `EgressDenied` anywhere in a reqwest error's source chain becomes `LlmError::EgressDenied`.

use std::error::Error as StdError;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::retry::{jitter, RetryPolicy};
use super::{redact, LlmError, TimeoutPhase};
use crate::egress::EgressDenied;
use crate::vocab::{ProviderTier, Timeouts};

/// Largest response body a client reads (16 MiB). A completion is text; anything bigger is a
/// misbehaving or hostile server, and is cut rather than buffered.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// How long and how much a finished body is drained to keep its connection reusable.
const DRAIN_WAIT: Duration = Duration::from_millis(10);
const DRAIN_MAX_BYTES: usize = 64 * 1024;

/// Largest error body read to find a message in it.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// `base` joined with `suffix`, whether or not `base` ends with a slash (`Url::join` would drop
/// the last segment of `http://h/v1` without one). The query string of `base` is kept.
pub(crate) fn join_url(base: &Url, suffix: &str) -> Url {
    let mut url = base.clone();
    let path = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        suffix.trim_start_matches('/')
    );
    url.set_path(&path);
    url
}

/// The headers sent with every call: the bearer key only when there is one (keyless local
/// servers get no `Authorization` at all), and the endpoint's extra headers. All are marked
/// sensitive, so they never show in `Debug` output or HTTP/2 header tables.
pub(crate) fn build_headers(
    api_key: Option<&SecretString>,
    extra: &[(String, SecretString)],
) -> Result<HeaderMap, LlmError> {
    let mut headers = HeaderMap::new();
    if let Some(key) = api_key {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", key.expose_secret())).map_err(|_| {
                LlmError::InvalidRequest {
                    reason: "the API key holds characters not allowed in a header".into(),
                }
            })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    for (name, secret) in extra {
        let header =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| LlmError::InvalidRequest {
                reason: format!("invalid extra header name {name:?}"),
            })?;
        let mut value = HeaderValue::from_str(secret.expose_secret()).map_err(|_| {
            LlmError::InvalidRequest {
                reason: format!("the value of extra header {name:?} is not a valid header value"),
            }
        })?;
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    Ok(headers)
}

/// Maps a reqwest error to the variant a caller can act on.
pub(crate) fn map_reqwest_error(err: reqwest::Error) -> LlmError {
    if let Some(denied) = egress_denied_in(&err) {
        return LlmError::EgressDenied(denied);
    }
    if err.is_timeout() {
        let phase = if err.is_connect() {
            TimeoutPhase::Connect
        } else {
            TimeoutPhase::Total
        };
        return LlmError::Timeout { phase };
    }
    LlmError::Unreachable {
        reason: describe(err),
    }
}

/// Finds an [`EgressDenied`] in an error's source chain, also inside `io::Error`s (whose
/// `source()` skips the error they wrap).
pub(crate) fn egress_denied_in(err: &(dyn StdError + 'static)) -> Option<EgressDenied> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(denied) = e.downcast_ref::<EgressDenied>() {
            return Some(denied.clone());
        }
        if let Some(denied) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<EgressDenied>())
        {
            return Some(denied.clone());
        }
        current = e.source();
    }
    None
}

/// The error and its causes on one line, without the URL, scrubbed.
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    redact::scrub(&text)
}

/// `Retry-After` as seconds or as an HTTP date.
pub(crate) fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or_default())
}

/// Everything [`start`] needs to know about a call.
pub(crate) struct CallContext<'a> {
    pub tier: ProviderTier,
    pub timeouts: &'a Timeouts,
    pub retry: &'a RetryPolicy,
    /// `<provider_id>/<model>`, named in a `ModelNotFound`.
    pub model_id: &'a str,
}

/// Sends a request and waits for a success status, retrying per [`RetryPolicy`] (never for a
/// cloud tier, never after output). `build` makes a fresh request for each attempt. Returns the
/// response with its body unread, ready for a [`BodyReader`].
pub(crate) async fn start<F>(ctx: &CallContext<'_>, build: F) -> Result<BodyReader, LlmError>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let call_started = Instant::now();
    let total_deadline = call_started + Duration::from_millis(ctx.timeouts.total_ms);
    let mut retry = 0u32;
    loop {
        let attempt_started = Instant::now();
        let error = match send_once(build(), attempt_started, total_deadline, ctx).await {
            Ok(response) => {
                return Ok(BodyReader::new(
                    response,
                    attempt_started,
                    total_deadline,
                    ctx.timeouts,
                    MAX_RESPONSE_BYTES,
                ));
            }
            Err(error) => error,
        };
        let Some(delay) = ctx.retry.delay(ctx.tier, retry, &error, jitter()) else {
            return Err(error);
        };
        if Instant::now() + delay >= total_deadline {
            return Err(error);
        }
        tracing::debug!(
            kind = error.kind(),
            retry,
            delay_ms = delay.as_millis() as u64,
            "retrying a call that produced no output"
        );
        tokio::time::sleep(delay).await;
        retry += 1;
    }
}

async fn send_once(
    request: reqwest::RequestBuilder,
    attempt_started: Instant,
    total_deadline: Instant,
    ctx: &CallContext<'_>,
) -> Result<reqwest::Response, LlmError> {
    let (phase, deadline) = earlier(
        (
            TimeoutPhase::FirstByte,
            attempt_started + Duration::from_millis(ctx.timeouts.first_byte_ms),
        ),
        total_deadline,
    );
    let response = match tokio::time::timeout_at(deadline.into(), request.send()).await {
        Err(_) => return Err(LlmError::Timeout { phase }),
        Ok(Err(e)) => return Err(map_reqwest_error(e)),
        Ok(Ok(response)) => response,
    };
    if response.status().is_success() {
        return Ok(response);
    }
    Err(error_from_response(response, deadline, ctx.model_id).await)
}

/// The phase whose deadline comes first: `candidate`, or the total deadline.
fn earlier(candidate: (TimeoutPhase, Instant), total: Instant) -> (TimeoutPhase, Instant) {
    if total <= candidate.1 {
        (TimeoutPhase::Total, total)
    } else {
        candidate
    }
}

/// Maps a non-success response to an error, reading at most [`MAX_ERROR_BODY_BYTES`] of its body
/// for a message (redacted). Statuses map in [`LlmError::from_http_status`].
async fn error_from_response(
    response: reqwest::Response,
    deadline: Instant,
    model_id: &str,
) -> LlmError {
    let status = response.status();
    let retry_after = parse_retry_after(response.headers());
    let mut body = BytesMut::new();
    let mut stream = response.bytes_stream();
    // The status is what matters; a body that is slow or huge only loses its message.
    let read = tokio::time::timeout_at(deadline.into(), async {
        while let Some(Ok(chunk)) = stream.next().await {
            body.extend_from_slice(&chunk);
            if body.len() >= MAX_ERROR_BODY_BYTES {
                break;
            }
        }
    });
    let _ = read.await;
    let message = redact::provider_message(&body)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    LlmError::from_http_status(status.as_u16(), message, retry_after, model_id)
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// Reads a response body line by line under the first-byte, idle and total deadlines and the
/// size cap. Lines end at `\n` (a trailing `\r` is dropped); a last line without `\n` is returned
/// at the end of the body. Dropping the reader drops the response, which closes its connection.
pub(crate) struct BodyReader {
    stream: ByteStream,
    buf: BytesMut,
    /// How much of `buf` is known to hold no newline.
    scanned: usize,
    received: usize,
    cap: usize,
    first_byte_deadline: Instant,
    total_deadline: Instant,
    idle: Duration,
    got_first_chunk: bool,
    ended: bool,
    /// Whether a line was returned yet (a byte order mark is dropped from the first only).
    past_first_line: bool,
}

impl BodyReader {
    fn new(
        response: reqwest::Response,
        attempt_started: Instant,
        total_deadline: Instant,
        t: &Timeouts,
        cap: usize,
    ) -> Self {
        Self {
            stream: Box::pin(response.bytes_stream()),
            buf: BytesMut::new(),
            scanned: 0,
            received: 0,
            cap,
            first_byte_deadline: attempt_started + Duration::from_millis(t.first_byte_ms),
            total_deadline,
            idle: Duration::from_millis(t.idle_ms),
            got_first_chunk: false,
            ended: false,
            past_first_line: false,
        }
    }

    /// The next line, or `None` at the end of the body. The line is a view into the body's
    /// buffer (no copy); [`line_str`] checks that it is UTF-8.
    pub(crate) async fn next_line(&mut self) -> Result<Option<Bytes>, LlmError> {
        loop {
            // Only the bytes not searched yet: a long line arriving in many chunks must not be
            // rescanned from its start each time (quadratic on a hostile 16 MiB line).
            if let Some(found) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
                let pos = self.scanned + found;
                self.scanned = 0;
                let mut line = self.buf.split_to(pos + 1);
                line.truncate(pos);
                if line.last() == Some(&b'\r') {
                    line.truncate(pos - 1);
                }
                return Ok(Some(self.without_bom(line.freeze())));
            }
            if self.ended {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                self.scanned = 0;
                let rest = self.buf.split().freeze();
                return Ok(Some(self.without_bom(rest)));
            }
            self.scanned = self.buf.len();
            match self.next_chunk().await? {
                Some(chunk) => self.buf.extend_from_slice(chunk.chunk()),
                None => self.ended = true,
            }
        }
    }

    /// The first line without a UTF-8 byte order mark (some servers start a body with one);
    /// later lines as they are.
    fn without_bom(&mut self, line: Bytes) -> Bytes {
        if std::mem::replace(&mut self.past_first_line, true) {
            return line;
        }
        match line.strip_prefix(b"\xEF\xBB\xBF") {
            Some(_) => line.slice(3..),
            None => line,
        }
    }

    /// The whole body (for small JSON answers such as model lists), under the same deadlines and
    /// cap.
    pub(crate) async fn read_all(mut self) -> Result<Bytes, LlmError> {
        let mut all = std::mem::take(&mut self.buf);
        while let Some(chunk) = self.next_chunk().await? {
            all.extend_from_slice(&chunk);
        }
        if all.starts_with(b"\xEF\xBB\xBF") {
            let _ = all.split_to(3);
        }
        Ok(all.freeze())
    }

    /// Reads what is left of a body whose answer is complete (the end of a chunked body after
    /// `[DONE]` or the final NDJSON line), for a moment only, so that the connection ends cleanly
    /// and can go back to the pool instead of being closed. Never an error: the answer is done.
    pub(crate) async fn drain_briefly(&mut self) {
        let drain = async {
            let mut drained = 0usize;
            while let Ok(Some(chunk)) = self.next_chunk().await {
                drained += chunk.len();
                if drained > DRAIN_MAX_BYTES {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_WAIT, drain).await;
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, LlmError> {
        let candidate = if self.got_first_chunk {
            (TimeoutPhase::Idle, Instant::now() + self.idle)
        } else {
            (TimeoutPhase::FirstByte, self.first_byte_deadline)
        };
        let (phase, deadline) = earlier(candidate, self.total_deadline);
        match tokio::time::timeout_at(deadline.into(), self.stream.next()).await {
            Err(_) => Err(LlmError::Timeout { phase }),
            Ok(None) => Ok(None),
            // Headers arrived, so the server was reached: a body that breaks off is an interrupted
            // answer, not an unreachable server (a timeout keeps its own variant).
            Ok(Some(Err(e))) => Err(match map_reqwest_error(e) {
                LlmError::Unreachable { reason } => LlmError::Interrupted { reason },
                other => other,
            }),
            Ok(Some(Ok(chunk))) => {
                self.got_first_chunk = true;
                self.received = self.received.saturating_add(chunk.len());
                if self.received > self.cap {
                    return Err(LlmError::MalformedResponse {
                        what: format!("response too large (over {} bytes)", self.cap),
                    });
                }
                Ok(Some(chunk))
            }
        }
    }
}

/// A line of the body as text, borrowed.
pub(crate) fn line_str(line: &[u8]) -> Result<&str, LlmError> {
    std::str::from_utf8(line).map_err(|_| LlmError::MalformedResponse {
        what: "a line is not valid UTF-8".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn joins_with_or_without_trailing_slash() {
        let a = Url::parse("http://127.0.0.1:8080/v1").unwrap();
        let b = Url::parse("http://127.0.0.1:8080/v1/").unwrap();
        let c = Url::parse("http://127.0.0.1:11434").unwrap();
        assert_eq!(
            join_url(&a, "chat/completions").as_str(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(
            join_url(&b, "/chat/completions").as_str(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(
            join_url(&c, "api/chat").as_str(),
            "http://127.0.0.1:11434/api/chat"
        );
        let q = Url::parse("https://h/openai/v1?api-version=2").unwrap();
        assert_eq!(
            join_url(&q, "models").as_str(),
            "https://h/openai/v1/models?api-version=2"
        );
    }

    #[test]
    fn headers_are_sensitive_and_keyless_means_no_authorization() {
        let none = build_headers(None, &[]).unwrap();
        assert!(none.get(AUTHORIZATION).is_none());
        let key = SecretString::from("sk-test-123");
        let extra = vec![("x-org".to_owned(), SecretString::from("org-1"))];
        let h = build_headers(Some(&key), &extra).unwrap();
        assert_eq!(
            h.get(AUTHORIZATION).unwrap().to_str().unwrap(),
            "Bearer sk-test-123"
        );
        assert!(h.get(AUTHORIZATION).unwrap().is_sensitive());
        assert!(h.get("x-org").unwrap().is_sensitive());
        assert!(!format!("{h:?}").contains("sk-test-123"));
        let bad = build_headers(Some(&SecretString::from("bad\nkey")), &[]).unwrap_err();
        assert!(!bad.to_string().contains("bad"), "{bad}");
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        let future = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&future).unwrap());
        let d = parse_retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(80) && d <= Duration::from_secs(90),
            "{d:?}"
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn egress_denied_is_found_in_the_chain_and_inside_io_errors() {
        use crate::egress::EgressRule;
        let denied = EgressDenied {
            rule: EgressRule::Metadata,
            target: "169.254.169.254:80".into(),
        };
        let io = std::io::Error::other(denied.clone());
        assert_eq!(egress_denied_in(&io), Some(denied.clone()));
        assert_eq!(egress_denied_in(&denied), Some(denied));
        let plain = std::io::Error::other("refused");
        assert_eq!(egress_denied_in(&plain), None);
    }
}
