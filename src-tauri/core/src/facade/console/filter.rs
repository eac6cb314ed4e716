//! The operator console's filters: what the UI sends (plain strings from form inputs), validated
//! into an [`EventQuery`], and the same filters applied to one event (for the live feed).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::recorder::{EventQuery, EventType, StoredEvent};

use super::super::error::FacadeError;

/// The console's filters as the UI sends them. Blank values mean "any". Times are RFC 3339
/// (`2026-11-28T02:00:00Z`); `from` is inclusive, `until` exclusive.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct ConsoleFilter {
    /// An event id such as `FR-EVT-CLOUD-001`.
    pub event_type: Option<String>,
    pub trace_id: Option<String>,
    pub job_id: Option<String>,
    pub provider_id: Option<String>,
    pub from: Option<String>,
    pub until: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn invalid(field: &'static str, value: &str, reason: impl Into<String>) -> FacadeError {
    FacadeError::InvalidId {
        field,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn time(field: &'static str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, FacadeError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| invalid(field, v, format!("not an RFC 3339 time ({e})")))
        })
        .transpose()
}

impl ConsoleFilter {
    /// The query these filters make (no paging), or the first invalid field.
    pub fn to_query(&self) -> Result<EventQuery, FacadeError> {
        let event_type = given(&self.event_type)
            .map(|t| {
                EventType::parse(t).ok_or_else(|| {
                    invalid(
                        "event_type",
                        t,
                        format!(
                            "not a Flight Recorder event id; one of {}",
                            EventType::ALL.map(EventType::as_str).join(", ")
                        ),
                    )
                })
            })
            .transpose()?;
        let trace_id = given(&self.trace_id)
            .map(|t| Uuid::parse_str(t).map_err(|_| invalid("trace_id", t, "not a UUID")))
            .transpose()?;
        let from = time("from", given(&self.from))?;
        let until = time("until", given(&self.until))?;
        if let (Some(f), Some(u)) = (from, until) {
            if u <= f {
                return Err(invalid(
                    "until",
                    given(&self.until).unwrap_or_default(),
                    "must be later than `from`",
                ));
            }
        }
        Ok(EventQuery {
            event_type,
            trace_id,
            job_id: given(&self.job_id).map(str::to_owned),
            provider_id: given(&self.provider_id).map(str::to_owned),
            from,
            until,
            ..EventQuery::default()
        })
    }
}

/// Whether `event` passes `query`'s filters (its paging is ignored).
pub fn matches(query: &EventQuery, event: &StoredEvent) -> bool {
    let same = |want: &Option<String>, have: &Option<String>| {
        want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
    };
    query
        .event_type
        .is_none_or(|t| t.as_str() == event.event_type)
        && query.trace_id.is_none_or(|t| event.trace_id == Some(t))
        && same(&query.job_id, &event.job_id)
        && same(&query.profile_id, &event.profile_id)
        && same(&query.provider_id, &event.provider_id)
        && same(&query.model_id, &event.model_id)
        && query.from.is_none_or(|f| event.occurred_at >= f)
        && query.until.is_none_or(|u| event.occurred_at < u)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn filter() -> ConsoleFilter {
        ConsoleFilter::default()
    }

    #[test]
    fn blank_filters_mean_any() {
        let f = ConsoleFilter {
            event_type: Some(" ".into()),
            job_id: Some(String::new()),
            ..filter()
        };
        assert_eq!(f.to_query().unwrap(), EventQuery::default());
    }

    #[test]
    fn every_filter_reaches_the_query() {
        let trace = Uuid::now_v7();
        let q = ConsoleFilter {
            event_type: Some("FR-EVT-CLOUD-003".into()),
            trace_id: Some(trace.to_string()),
            job_id: Some(" job-1 ".into()),
            provider_id: Some("oll".into()),
            from: Some("2026-11-28T01:00:00Z".into()),
            until: Some("2026-11-28T03:00:00+01:00".into()),
        }
        .to_query()
        .unwrap();
        assert_eq!(q.event_type, Some(EventType::CloudDenied));
        assert_eq!(q.trace_id, Some(trace));
        assert_eq!(q.job_id.as_deref(), Some("job-1"));
        assert_eq!(q.provider_id.as_deref(), Some("oll"));
        assert_eq!(q.from.unwrap().to_rfc3339(), "2026-11-28T01:00:00+00:00");
        assert_eq!(q.until.unwrap().to_rfc3339(), "2026-11-28T02:00:00+00:00");
    }

    #[test]
    fn invalid_filters_name_their_field() {
        let cases = [
            (
                ConsoleFilter {
                    event_type: Some("FR-EVT-NOPE".into()),
                    ..filter()
                },
                "event_type",
            ),
            (
                ConsoleFilter {
                    trace_id: Some("abc".into()),
                    ..filter()
                },
                "trace_id",
            ),
            (
                ConsoleFilter {
                    from: Some("yesterday".into()),
                    ..filter()
                },
                "from",
            ),
            (
                ConsoleFilter {
                    from: Some("2026-11-28T02:00:00Z".into()),
                    until: Some("2026-11-28T01:00:00Z".into()),
                    ..filter()
                },
                "until",
            ),
        ];
        for (f, field) in cases {
            let err = f.to_query().unwrap_err();
            assert_eq!(err.field(), Some(field), "{err}");
            assert_eq!(err.code(), "invalid_id");
        }
    }

    fn event(event_type: EventType, job: Option<&str>, at: &str) -> StoredEvent {
        StoredEvent {
            seq: 1,
            event_id: Uuid::now_v7(),
            event_type: event_type.as_str().to_owned(),
            occurred_at: DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
            trace_id: None,
            job_id: job.map(str::to_owned),
            profile_id: None,
            provider_id: None,
            model_id: None,
            payload: serde_json::json!({}),
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn an_event_matches_only_every_filter() {
        let q = ConsoleFilter {
            event_type: Some("FR-EVT-PROFILE-002".into()),
            job_id: Some("job-1".into()),
            from: Some("2026-11-28T01:00:00Z".into()),
            until: Some("2026-11-28T02:00:00Z".into()),
            ..filter()
        }
        .to_query()
        .unwrap();
        let at = "2026-11-28T01:30:00Z";
        assert!(matches(
            &q,
            &event(EventType::JobStarted, Some("job-1"), at)
        ));
        assert!(!matches(
            &q,
            &event(EventType::JobStarted, Some("job-2"), at)
        ));
        assert!(!matches(&q, &event(EventType::JobStarted, None, at)));
        assert!(!matches(
            &q,
            &event(EventType::ModelResolved, Some("job-1"), at)
        ));
        assert!(!matches(
            &q,
            &event(EventType::JobStarted, Some("job-1"), "2026-11-28T02:00:00Z")
        ));
        assert!(matches(
            &q,
            &event(EventType::JobStarted, Some("job-1"), "2026-11-28T01:00:00Z")
        ));
        assert!(matches(
            &EventQuery::default(),
            &event(EventType::ModelResolved, None, at)
        ));
    }
}
