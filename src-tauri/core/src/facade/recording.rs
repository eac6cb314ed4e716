//! How facade operations write their Flight Recorder events: durably ([`FlightRecorder`]'s
//! `append_durable`), right after the operation whose facts they carry, and with ids the
//! recorder can hold ([`Ident`]).
//!
//! Guarantee: an operation that succeeded but whose event could not be written is reported as
//! [`FacadeError::NotRecorded`], naming what was done, never as a plain success.
//!
//! [`FlightRecorder`]: crate::recorder::FlightRecorder

use crate::recorder::{Correlation, FlightEvent, Ident, StoredEvent};

use super::error::FacadeError;
use super::Handshake;

/// An id for an event field. Ids the facade lets in are checked up front ([`checked_ident`]);
/// ids that were stored before (a previous profile) are carried as close to exact as possible.
pub(crate) fn ident(value: &str) -> Ident {
    Ident::sanitized(value)
}

/// Refuses an id the Flight Recorder could not carry exactly, before anything is changed.
pub(crate) fn checked_ident(field: &'static str, value: &str) -> Result<Ident, FacadeError> {
    Ident::new(value).map_err(|e| FacadeError::InvalidId {
        field,
        value: value.to_owned(),
        reason: e.to_string(),
    })
}

impl Handshake {
    /// Opens the Flight Recorder before an operation changes anything, so that a recorder that
    /// cannot start (keychain locked, anchor unwritable) refuses the operation instead of leaving
    /// it done and unrecorded.
    pub(crate) async fn ready_to_record(&self) -> Result<(), FacadeError> {
        self.recorder().await?;
        Ok(())
    }

    /// Writes a governance event durably; `done` says what was already done if it fails.
    pub(crate) async fn record(
        &self,
        event: FlightEvent,
        correlation: Correlation,
        done: impl FnOnce() -> String,
    ) -> Result<StoredEvent, FacadeError> {
        let recorder = match self.recorder().await {
            Ok(recorder) => recorder,
            Err(source) => {
                return Err(FacadeError::NotRecorded {
                    done: done(),
                    source,
                })
            }
        };
        match recorder.append_durable(event, correlation).await {
            Ok(stored) => Ok(stored),
            Err(source) => Err(FacadeError::NotRecorded {
                done: done(),
                source,
            }),
        }
    }
}
