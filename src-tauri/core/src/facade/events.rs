//! Reading the Flight Recorder without starting its writer: tail, query, verify and export go
//! straight to the database (and the anchor file, for verify), so `hsk recorder ...` can read
//! while the desktop app is recording, and never writes an event or the anchor (verify moves only
//! its own verified mark).

use tokio::io::AsyncWrite;

use crate::recorder::{self, EventQuery, KeySource, StoredEvent, VerifyDepth, VerifyReport};

use super::error::FacadeError;
use super::Handshake;

impl Handshake {
    /// The newest `n` events, oldest first.
    pub async fn events_tail(&self, n: u32) -> Result<Vec<StoredEvent>, FacadeError> {
        Ok(recorder::store::tail(self.db().pool(), n).await?)
    }

    /// Events matching `query`, in sequence order (paginate with `after_seq`).
    pub async fn events_query(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, FacadeError> {
        Ok(recorder::store::query(self.db().pool(), query).await?)
    }

    /// Walks the chain (all of it, or from the verified mark) and checks it against the anchor and
    /// the keychain's witness (the anchor key comes from the keychain).
    pub async fn events_verify(&self, depth: VerifyDepth) -> Result<VerifyReport, FacadeError> {
        Ok(recorder::verify_data_dir_to(
            self.db(),
            self.data_dir(),
            KeySource::Keychain(self.keychain().clone()),
            depth,
        )
        .await?)
    }

    /// Writes every event matching `query` as JSON Lines and returns how many were written.
    pub async fn events_export<W: AsyncWrite + Unpin>(
        &self,
        query: &EventQuery,
        out: &mut W,
    ) -> Result<u64, FacadeError> {
        Ok(recorder::export_jsonl(self.db().pool(), query, out).await?)
    }
}
