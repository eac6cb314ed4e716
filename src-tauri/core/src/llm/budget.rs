//! Budget enforcement (spec 4.2.3.2, point 2): `max_tokens` is sent to the provider, and the client
//! also counts what comes back, because some servers ignore the limit.
//!
//! Two observations are checked: the provider's own usage figure (`completion_tokens`, exact where
//! reported) and the number of non-empty text chunks streamed so far. Every non-empty chunk holds
//! at least one token, so the chunk count is a lower bound on tokens: when it passes the limit the
//! provider has certainly passed it too, and the stream is cut at that chunk. The check never
//! fires early.

use super::{LlmError, StreamEvent};

/// Counts one completion's output against its `max_tokens`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    limit: Option<u32>,
    chunks: u32,
}

impl Budget {
    pub(crate) fn new(limit: Option<u32>) -> Self {
        Self { limit, chunks: 0 }
    }

    /// Checks an event before it is handed to the caller. An `Err` means the event must not be
    /// delivered and the stream ends with that error.
    pub(crate) fn check(&mut self, event: &StreamEvent) -> Result<(), LlmError> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        match event {
            StreamEvent::Text { delta } if !delta.is_empty() => {
                self.chunks = self.chunks.saturating_add(1);
                if self.chunks > limit {
                    return Err(LlmError::BudgetExceeded {
                        limit,
                        observed: self.chunks,
                    });
                }
            }
            StreamEvent::Usage { usage } => {
                if let Some(observed) = usage.completion_tokens {
                    if observed > limit {
                        return Err(LlmError::BudgetExceeded { limit, observed });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::TokenUsage;

    fn text(s: &str) -> StreamEvent {
        StreamEvent::Text { delta: s.into() }
    }

    #[test]
    fn cuts_at_the_first_chunk_past_the_limit() {
        let mut b = Budget::new(Some(2));
        assert!(b.check(&text("a")).is_ok());
        assert!(b.check(&text("")).is_ok(), "empty chunks hold no token");
        assert!(b.check(&text("b")).is_ok());
        let err = b.check(&text("c")).unwrap_err();
        assert!(matches!(
            err,
            LlmError::BudgetExceeded {
                limit: 2,
                observed: 3
            }
        ));
    }

    #[test]
    fn reported_usage_over_the_limit_is_an_error() {
        let mut b = Budget::new(Some(10));
        let usage = |n| StreamEvent::Usage {
            usage: TokenUsage {
                prompt_tokens: Some(5),
                completion_tokens: Some(n),
            },
        };
        assert!(b.check(&usage(10)).is_ok());
        assert!(matches!(
            b.check(&usage(11)),
            Err(LlmError::BudgetExceeded {
                limit: 10,
                observed: 11
            })
        ));
        let unknown = StreamEvent::Usage {
            usage: TokenUsage::default(),
        };
        assert!(b.check(&unknown).is_ok());
    }

    #[test]
    fn no_limit_means_no_check() {
        let mut b = Budget::new(None);
        for _ in 0..1000 {
            assert!(b.check(&text("x")).is_ok());
        }
    }
}
