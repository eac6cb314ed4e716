//! When and how long to wait before trying a call again.
//!
//! Rules (the transport applies them, see [`super::transport::start`]):
//! - only errors that [`LlmError::is_retryable`] says may succeed later (rate limits, 5xx,
//!   unreachable, timeouts);
//! - only before any output was streamed: a retry happens while waiting for the response status,
//!   never once a body is being read;
//! - never for a cloud-tier model: a cloud payload is sent only under a single-use consent
//!   receipt bound to it, so re-sending it would be a second cloud call without consent. The
//!   caller sees the error and may ask again (with new consent);
//! - exponential backoff with jitter, and at least as long as the provider's `Retry-After`; a
//!   `Retry-After` longer than [`RetryPolicy::max_retry_after`] is not waited for: the error goes
//!   back to the caller, who can schedule it.

use std::time::Duration;

use super::LlmError;
use crate::vocab::ProviderTier;

/// How a client retries calls that failed before producing output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubled for each later one.
    pub base_delay: Duration,
    /// Longest backoff (before honouring `Retry-After`).
    pub max_delay: Duration,
    /// Longest `Retry-After` the client waits for itself.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// How long to wait before retry number `retry` (0 for the first retry) after `error`, or
    /// `None` when the call must not be retried. `jitter` is a random number in `[0, 1)`.
    pub(crate) fn delay(
        &self,
        tier: ProviderTier,
        retry: u32,
        error: &LlmError,
        jitter: f64,
    ) -> Option<Duration> {
        if tier == ProviderTier::Cloud
            || !error.is_retryable()
            || retry.saturating_add(1) >= self.max_attempts
        {
            return None;
        }
        let retry_after = match error {
            LlmError::RateLimited { retry_after } => *retry_after,
            _ => None,
        };
        if retry_after.is_some_and(|d| d > self.max_retry_after) {
            return None;
        }
        let backoff = self
            .base_delay
            .saturating_mul(1u32 << retry.min(16))
            .min(self.max_delay);
        // "Equal jitter": half the backoff fixed, half random, so clients that failed together
        // do not come back together.
        let jittered = backoff / 2 + backoff.mul_f64(jitter.clamp(0.0, 1.0) / 2.0);
        Some(jittered.max(retry_after.unwrap_or_default()))
    }
}

/// A random number in `[0, 1)` for jitter, from the v4 UUID generator's OS randomness (no extra
/// dependency needed for something this unimportant).
pub(crate) fn jitter() -> f64 {
    let bits = (uuid::Uuid::new_v4().as_u128() >> 75) as u64; // 53 random bits
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::TimeoutPhase;

    fn unreachable() -> LlmError {
        LlmError::Unreachable {
            reason: "refused".into(),
        }
    }

    #[test]
    fn backs_off_exponentially_within_jitter_bounds() {
        let p = RetryPolicy {
            max_attempts: 10,
            ..RetryPolicy::default()
        };
        let d0 = p
            .delay(ProviderTier::Local, 0, &unreachable(), 0.0)
            .unwrap();
        let d0_max = p
            .delay(ProviderTier::Local, 0, &unreachable(), 0.999)
            .unwrap();
        let d1 = p
            .delay(ProviderTier::Local, 1, &unreachable(), 0.0)
            .unwrap();
        assert_eq!(d0, Duration::from_millis(125));
        assert!(d0_max < Duration::from_millis(250) && d0_max > d0);
        assert_eq!(d1, Duration::from_millis(250));
        assert_eq!(
            p.delay(ProviderTier::Local, 3, &unreachable(), 0.0),
            Some(Duration::from_secs(1))
        );
        // 250 ms * 2^5 = 8 s is capped at max_delay (4 s), then halved by the jitter floor.
        assert_eq!(
            p.delay(ProviderTier::Local, 5, &unreachable(), 0.0),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn never_retries_cloud_or_non_retryable_or_past_the_attempts() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(ProviderTier::Cloud, 0, &unreachable(), 0.5), None);
        assert_eq!(
            p.delay(ProviderTier::Local, 0, &LlmError::Unauthorized, 0.5),
            None
        );
        assert_eq!(p.delay(ProviderTier::Local, 2, &unreachable(), 0.5), None);
        assert!(p
            .delay(
                ProviderTier::Local,
                1,
                &LlmError::Timeout {
                    phase: TimeoutPhase::FirstByte
                },
                0.5
            )
            .is_some());
        assert_eq!(
            RetryPolicy::never().delay(ProviderTier::Local, 0, &unreachable(), 0.5),
            None
        );
    }

    #[test]
    fn honours_retry_after_but_not_beyond_the_cap() {
        let p = RetryPolicy::default();
        let limited = |s| LlmError::RateLimited {
            retry_after: Some(Duration::from_secs(s)),
        };
        assert_eq!(
            p.delay(ProviderTier::Local, 0, &limited(3), 0.0),
            Some(Duration::from_secs(3))
        );
        assert_eq!(p.delay(ProviderTier::Local, 0, &limited(60), 0.0), None);
    }

    #[test]
    fn jitter_is_in_unit_interval() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
