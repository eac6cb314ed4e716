//! Turning a provider's error body into a message that is safe to show and to record.
//!
//! A provider's error body may echo the request (prompt, headers) or a key. We therefore never keep
//! a raw body: only a known message field of a JSON body (`error.message`, `error`, `message`,
//! `detail`), truncated, with anything that looks like a credential replaced by `[redacted]`. A
//! body that is not JSON (an HTML proxy page, plain text) yields no message at all.

use serde_json::Value;

/// Longest message kept from a provider body, in characters.
pub(crate) const MAX_MESSAGE_CHARS: usize = 300;

const REDACTED: &str = "[redacted]";

/// The message a provider put in a JSON error body, scrubbed and truncated; `None` when the body
/// is not JSON or has no message field.
pub(crate) fn provider_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    message_of(&value).map(|m| scrub(&m))
}

/// The message inside an already parsed error value: `{"error": {"message": ..}}`,
/// `{"error": ".."}`, `{"message": ..}`, `{"detail": ..}` or a bare string.
pub(crate) fn message_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => {
            if let Some(inner) = map.get("error") {
                if let Some(m) = message_of(inner) {
                    return Some(m);
                }
            }
            for key in ["message", "detail", "msg"] {
                match map.get(key) {
                    Some(Value::String(s)) => return Some(s.clone()),
                    // FastAPI validation errors: {"detail": [{"msg": ..}]}
                    Some(Value::Array(items)) => {
                        if let Some(m) = items.first().and_then(message_of) {
                            return Some(m);
                        }
                    }
                    _ => {}
                }
            }
            None
        }
        _ => None,
    }
}

/// Replaces anything that looks like a credential and truncates to [`MAX_MESSAGE_CHARS`].
///
/// Heuristics, because we cannot know every provider's key format: the word after `Bearer`,
/// words starting with a common key prefix (`sk-`, `sk_`, `pk-`, `key-`, `hf_`, `gsk_`, `xai-`,
/// `AIza`), and any word of 24 or more characters that mixes letters and digits.
pub(crate) fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE_CHARS * 4));
    let mut redact_next = false;
    for (i, word) in message.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if redact_next && !word.is_empty() {
            out.push_str(REDACTED);
            redact_next = false;
            continue;
        }
        if word.eq_ignore_ascii_case("bearer") {
            redact_next = true;
            out.push_str(word);
            continue;
        }
        if looks_like_secret(word) {
            out.push_str(REDACTED);
        } else {
            out.push_str(word);
        }
    }
    truncate_chars(&out, MAX_MESSAGE_CHARS)
}

fn looks_like_secret(word: &str) -> bool {
    let core = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_');
    const PREFIXES: [&str; 8] = ["sk-", "sk_", "pk-", "key-", "hf_", "gsk_", "xai-", "AIza"];
    if core.len() >= 12 && PREFIXES.iter().any(|p| core.starts_with(p)) {
        return true;
    }
    let token_chars = core
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+' | '='));
    let has_digit = core.chars().any(|c| c.is_ascii_digit());
    let has_alpha = core.chars().any(|c| c.is_ascii_alphabetic());
    core.len() >= 24 && token_chars && has_digit && has_alpha
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((idx, _)) => format!("{}...", &s[..idx]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_only_the_message_field() {
        let body = br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","param":null}}"#;
        assert_eq!(
            provider_message(body).as_deref(),
            Some("Incorrect API key provided")
        );
        assert_eq!(
            provider_message(br#"{"error":"model \"x\" not found"}"#).as_deref(),
            Some("model \"x\" not found")
        );
        assert_eq!(
            provider_message(br#"{"detail":[{"msg":"field required"}]}"#).as_deref(),
            Some("field required")
        );
        assert_eq!(provider_message(b"<html>Bad gateway</html>"), None);
        assert_eq!(provider_message(br#"{"unrelated":1}"#), None);
    }

    #[test]
    fn scrubs_keys_and_bearer_tokens() {
        let m = scrub("Incorrect API key provided: sk-proj-abcdefghijklmnop1234. Authorization: Bearer xyz.abc");
        assert!(!m.contains("sk-proj"), "{m}");
        assert!(!m.contains("xyz.abc"), "{m}");
        assert!(m.contains("Incorrect API key provided"));
        let m = scrub("token a1b2c3d4e5f6a7b8c9d0e1f2a3b4 is invalid");
        assert_eq!(m, "token [redacted] is invalid");
        assert_eq!(scrub("model not found"), "model not found");
    }

    #[test]
    fn truncates_long_messages() {
        let long = "word ".repeat(200);
        let m = scrub(&long);
        assert!(m.chars().count() <= MAX_MESSAGE_CHARS + 3);
        assert!(m.ends_with("..."));
    }
}
