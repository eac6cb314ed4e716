//! The console's timeline: completions (latency and tokens, local and cloud apart) and the cloud
//! escalation steps over time, with totals, aggregated from Flight Recorder events so the
//! operator sees at a glance what left the machine and when.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::recorder::{EventType, StoredEvent};
use crate::registry::ProviderTier;

/// Most completions (and, separately, escalation events) a timeline holds: the newest ones.
pub const TIMELINE_MAX: u32 = 500;

/// One completion attempt (FR-EVT-LLM-INFERENCE).
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct TimelineCompletion {
    #[ts(type = "number")]
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub tier: ProviderTier,
    pub provider_id: Option<String>,
    pub model_id: Option<String>,
    #[ts(type = "number")]
    pub latency_ms: u64,
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    /// `success`, `error`, `cancelled` or `incomplete`.
    pub status: String,
}

/// A step of a cloud escalation (FR-EVT-CLOUD-001..004).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStep {
    Requested,
    Approved,
    Denied,
    Executed,
}

impl EscalationStep {
    fn of(event_type: &str) -> Option<Self> {
        match EventType::parse(event_type)? {
            EventType::CloudRequested => Some(Self::Requested),
            EventType::CloudApproved => Some(Self::Approved),
            EventType::CloudDenied => Some(Self::Denied),
            EventType::CloudExecuted => Some(Self::Executed),
            _ => None,
        }
    }
}

/// One escalation event on the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct TimelineEscalation {
    #[ts(type = "number")]
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub step: EscalationStep,
    /// Bytes planned (requested) or sent (executed).
    #[ts(type = "number | null")]
    pub bytes: Option<u64>,
    pub provider_id: Option<String>,
    pub model_id: Option<String>,
    /// Why it was denied.
    pub reason: Option<String>,
}

/// Totals for one tier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct TierTotals {
    #[ts(type = "number")]
    pub completions: u64,
    /// Attempts that did not end in success.
    #[ts(type = "number")]
    pub failed: u64,
    #[ts(type = "number")]
    pub prompt_tokens: u64,
    #[ts(type = "number")]
    pub completion_tokens: u64,
}

/// What the console draws above its table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ts_rs::TS)]
pub struct ConsoleTimeline {
    /// Oldest first.
    pub completions: Vec<TimelineCompletion>,
    /// Oldest first.
    pub escalations: Vec<TimelineEscalation>,
    pub local: TierTotals,
    pub cloud: TierTotals,
    /// Bytes the executed cloud calls sent (FR-EVT-CLOUD-004 `sent_bytes`).
    #[ts(type = "number")]
    pub cloud_bytes_sent: u64,
    /// Only the newest [`TIMELINE_MAX`] of either kind are shown; narrow the time range.
    pub truncated: bool,
}

fn u64_at(payload: &Value, key: &str) -> Option<u64> {
    payload.get(key).and_then(Value::as_u64)
}

fn u32_at(payload: &Value, key: &str) -> Option<u32> {
    u64_at(payload, key).and_then(|v| u32::try_from(v).ok())
}

fn str_at(payload: &Value, key: &str) -> Option<String> {
    payload.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn completion(event: &StoredEvent) -> Option<TimelineCompletion> {
    if event.event_type != EventType::LlmInference.as_str() {
        return None;
    }
    let p = &event.payload;
    let tier = match p.get("tier").and_then(Value::as_str) {
        Some("cloud") => ProviderTier::Cloud,
        _ => ProviderTier::Local,
    };
    Some(TimelineCompletion {
        seq: event.seq,
        at: event.occurred_at,
        tier,
        provider_id: event
            .provider_id
            .clone()
            .or_else(|| str_at(p, "provider_id")),
        model_id: event.model_id.clone().or_else(|| str_at(p, "model_id")),
        latency_ms: u64_at(p, "latency_ms").unwrap_or(0),
        prompt_tokens: u32_at(p, "prompt_tokens"),
        completion_tokens: u32_at(p, "completion_tokens"),
        status: p
            .get("outcome")
            .and_then(|o| o.get("status"))
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned(),
    })
}

fn escalation(event: &StoredEvent) -> Option<TimelineEscalation> {
    let step = EscalationStep::of(&event.event_type)?;
    let p = &event.payload;
    Some(TimelineEscalation {
        seq: event.seq,
        at: event.occurred_at,
        step,
        bytes: match step {
            EscalationStep::Requested => u64_at(p, "payload_bytes"),
            EscalationStep::Executed => u64_at(p, "sent_bytes"),
            _ => None,
        },
        provider_id: event.provider_id.clone(),
        model_id: event.model_id.clone(),
        reason: (step == EscalationStep::Denied)
            .then(|| str_at(p, "reason"))
            .flatten(),
    })
}

/// Builds the timeline from events of any order and type (others are ignored); `truncated`
/// says the caller left older events out.
pub fn build(events: &[StoredEvent], truncated: bool) -> ConsoleTimeline {
    let mut t = ConsoleTimeline {
        truncated,
        ..ConsoleTimeline::default()
    };
    let mut sorted: Vec<&StoredEvent> = events.iter().collect();
    sorted.sort_by_key(|e| e.seq);
    for event in sorted {
        if let Some(c) = completion(event) {
            let totals = match c.tier {
                ProviderTier::Local => &mut t.local,
                ProviderTier::Cloud => &mut t.cloud,
            };
            totals.completions += 1;
            totals.failed += u64::from(c.status != "success");
            totals.prompt_tokens += u64::from(c.prompt_tokens.unwrap_or(0));
            totals.completion_tokens += u64::from(c.completion_tokens.unwrap_or(0));
            t.completions.push(c);
        } else if let Some(e) = escalation(event) {
            if e.step == EscalationStep::Executed {
                t.cloud_bytes_sent += e.bytes.unwrap_or(0);
            }
            t.escalations.push(e);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    fn event(seq: i64, event_type: EventType, provider: &str, payload: Value) -> StoredEvent {
        StoredEvent {
            seq,
            event_id: Uuid::now_v7(),
            event_type: event_type.as_str().to_owned(),
            occurred_at: DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(seq),
            trace_id: None,
            job_id: None,
            profile_id: None,
            provider_id: Some(provider.to_owned()),
            model_id: Some(format!("{provider}/m")),
            payload,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    fn inference(seq: i64, tier: &str, status: &str, tokens: Option<u32>) -> StoredEvent {
        let provider = if tier == "cloud" { "open" } else { "oll" };
        event(
            seq,
            EventType::LlmInference,
            provider,
            json!({"tier": tier, "latency_ms": 100 * seq, "prompt_tokens": tokens,
                   "completion_tokens": tokens.map(|t| t * 2), "outcome": {"status": status}}),
        )
    }

    #[test]
    fn completions_are_split_by_tier_and_escalations_marked() {
        let events = vec![
            event(
                5,
                EventType::CloudExecuted,
                "open",
                json!({"sent_bytes": 42, "outcome": {"status": "dispatched"}}),
            ),
            inference(1, "local", "success", Some(10)),
            inference(2, "local", "error", None),
            event(
                3,
                EventType::CloudRequested,
                "open",
                json!({"payload_bytes": 42}),
            ),
            event(4, EventType::CloudApproved, "open", json!({})),
            inference(6, "cloud", "success", Some(7)),
            event(
                7,
                EventType::CloudDenied,
                "open",
                json!({"reason": "person"}),
            ),
            event(8, EventType::JobStarted, "oll", json!({})),
        ];
        let t = build(&events, false);
        let seqs: Vec<i64> = t.completions.iter().map(|c| c.seq).collect();
        assert_eq!(seqs, [1, 2, 6]);
        assert_eq!(t.completions[0].latency_ms, 100);
        assert_eq!(t.completions[1].prompt_tokens, None);
        assert_eq!(t.completions[2].tier, ProviderTier::Cloud);
        assert_eq!(t.completions[2].model_id.as_deref(), Some("open/m"));
        assert_eq!(
            t.local,
            TierTotals {
                completions: 2,
                failed: 1,
                prompt_tokens: 10,
                completion_tokens: 20
            }
        );
        assert_eq!(
            t.cloud,
            TierTotals {
                completions: 1,
                failed: 0,
                prompt_tokens: 7,
                completion_tokens: 14
            }
        );
        let steps: Vec<EscalationStep> = t.escalations.iter().map(|e| e.step).collect();
        assert_eq!(
            steps,
            [
                EscalationStep::Requested,
                EscalationStep::Approved,
                EscalationStep::Executed,
                EscalationStep::Denied
            ]
        );
        assert_eq!(t.escalations[0].bytes, Some(42));
        assert_eq!(t.escalations[1].bytes, None);
        assert_eq!(t.escalations[3].reason.as_deref(), Some("person"));
        assert_eq!(t.cloud_bytes_sent, 42);
        assert!(!t.truncated);
    }

    #[test]
    fn an_empty_log_has_an_empty_timeline() {
        let t = build(&[], true);
        assert!(t.completions.is_empty() && t.escalations.is_empty());
        assert_eq!(t.cloud_bytes_sent, 0);
        assert!(t.truncated);
    }
}
