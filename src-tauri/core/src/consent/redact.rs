//! Named redactions applied to every payload before it may leave for a cloud model: secrets and
//! tokens (API keys, GitHub tokens, AWS access key ids, bearer tokens, private key PEM blocks,
//! passwords in URLs) and PII (email addresses, phone numbers).
//!
//! Guarantee: every redaction in [`REDACTIONS`] runs on every payload, in a fixed order, and
//! replaces each match with `[REDACTED:<name>]`; the result is deterministic, so the same prompt
//! always projects to the same bytes and hash. The names of the redactions that replaced at least
//! one span are returned for `ProjectionPlan.redactions_applied`.

use std::sync::OnceLock;

use regex::Regex;

/// One named redaction: its pattern and how a match is replaced.
struct Redaction {
    name: &'static str,
    pattern: &'static str,
    /// Replacement template (`$1` keeps a prefix the pattern captured).
    replacement: &'static str,
}

/// Every redaction, in the order applied (PEM blocks first: they contain token-like text).
const REDACTIONS: &[Redaction] = &[
    Redaction {
        name: "private_key",
        pattern: r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?-----END [A-Z0-9 ]*PRIVATE KEY-----",
        replacement: "[REDACTED:private_key]",
    },
    Redaction {
        name: "url_password",
        pattern: r"([A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]+:)[^/\s@]+@",
        replacement: "${1}[REDACTED:url_password]@",
    },
    Redaction {
        name: "bearer_token",
        pattern: r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*",
        replacement: "${1}[REDACTED:bearer_token]",
    },
    Redaction {
        name: "api_key",
        pattern: r"\bsk-[A-Za-z0-9_\-]{16,}",
        replacement: "[REDACTED:api_key]",
    },
    Redaction {
        name: "github_token",
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
        replacement: "[REDACTED:github_token]",
    },
    Redaction {
        name: "aws_access_key",
        pattern: r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        replacement: "[REDACTED:aws_access_key]",
    },
    Redaction {
        name: "email",
        pattern: r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b",
        replacement: "[REDACTED:email]",
    },
    Redaction {
        name: "phone",
        pattern: r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)|\b\d{3})[\s.\-]\d{3}[\s.\-]\d{4}\b|\+\d{1,3}(?:[\s.\-]\d{2,4}){2,4}\b",
        replacement: "[REDACTED:phone]",
    },
];

/// The names of every redaction, in the order applied.
pub fn redaction_names() -> Vec<&'static str> {
    REDACTIONS.iter().map(|r| r.name).collect()
}

fn compiled() -> &'static [(usize, Regex)] {
    static COMPILED: OnceLock<Vec<(usize, Regex)>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        REDACTIONS
            .iter()
            .enumerate()
            // The patterns are constants covered by the tests below; one that failed to compile
            // would be skipped, and `every_pattern_compiles` fails.
            .filter_map(|(i, r)| Regex::new(r.pattern).ok().map(|re| (i, re)))
            .collect()
    })
}

/// A payload after redaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redacted {
    /// The text with every match replaced.
    pub text: String,
    /// The names of the redactions that replaced at least one span, in the order applied.
    pub applied: Vec<String>,
}

/// Applies every redaction to `input`.
pub fn redact(input: &str) -> Redacted {
    let mut text = input.to_owned();
    let mut applied = Vec::new();
    for (index, regex) in compiled() {
        let redaction = &REDACTIONS[*index];
        if regex.is_match(&text) {
            text = regex.replace_all(&text, redaction.replacement).into_owned();
            applied.push(redaction.name.to_owned());
        }
    }
    Redacted { text, applied }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(input: &str, name: &str) -> String {
        let r = redact(input);
        assert_eq!(r.applied, vec![name.to_owned()], "for {input:?}: {r:?}");
        r.text
    }

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(compiled().len(), REDACTIONS.len());
    }

    #[test]
    fn openai_style_api_keys() {
        let out = only("key sk-proj-AbCdEf0123456789xyzXYZ done", "api_key");
        assert_eq!(out, "key [REDACTED:api_key] done");
        // Too short to be a key: left alone.
        assert!(redact("sk-short").applied.is_empty());
    }

    #[test]
    fn github_tokens() {
        let out = only(
            "token=ghp_0123456789abcdefghijABCDEFGHIJ0123",
            "github_token",
        );
        assert_eq!(out, "token=[REDACTED:github_token]");
        only(
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
            "github_token",
        );
    }

    #[test]
    fn aws_access_key_ids() {
        let out = only("aws AKIAIOSFODNN7EXAMPLE here", "aws_access_key");
        assert_eq!(out, "aws [REDACTED:aws_access_key] here");
    }

    #[test]
    fn bearer_tokens() {
        let out = only(
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
            "bearer_token",
        );
        assert_eq!(out, "Authorization: Bearer [REDACTED:bearer_token]");
    }

    #[test]
    fn private_key_pem_blocks() {
        let input = "before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAA\n-----END OPENSSH PRIVATE KEY-----\nafter";
        let out = only(input, "private_key");
        assert_eq!(out, "before\n[REDACTED:private_key]\nafter");
        only(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            "private_key",
        );
    }

    #[test]
    fn passwords_in_urls() {
        let out = only(
            "db at postgres://admin:hunter2@db.internal:5432/app",
            "url_password",
        );
        assert_eq!(
            out,
            "db at postgres://admin:[REDACTED:url_password]@db.internal:5432/app"
        );
        // A URL without credentials is kept.
        assert!(redact("see https://example.com/a:b").applied.is_empty());
    }

    #[test]
    fn email_addresses() {
        let out = only("mail alice.smith+work@example.co.uk now", "email");
        assert_eq!(out, "mail [REDACTED:email] now");
    }

    #[test]
    fn phone_numbers() {
        for input in [
            "+1 415-555-0100",
            "(415) 555-0100",
            "415.555.0100",
            "+44 20 7946 0958",
        ] {
            let out = only(&format!("call {input} today"), "phone");
            assert_eq!(out, "call [REDACTED:phone] today", "{input}");
        }
        // Dates and versions are not phone numbers.
        assert!(redact("on 2026-11-28 v1.2.3").applied.is_empty());
    }

    #[test]
    fn several_redactions_are_all_listed_in_order_and_deterministic() {
        let input = "bob@example.com uses sk-abcdefghijklmnop1234 and +1 415 555 0100";
        let a = redact(input);
        assert_eq!(a.applied, vec!["api_key", "email", "phone"]);
        assert!(!a.text.contains("bob@"));
        assert!(!a.text.contains("sk-abc"));
        assert_eq!(a, redact(input));
        // Idempotent: redacting the projection changes nothing.
        assert_eq!(redact(&a.text).text, a.text);
        assert!(redact(&a.text).applied.is_empty());
        assert!(redaction_names().contains(&"private_key"));
    }
}
