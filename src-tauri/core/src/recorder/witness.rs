//! The head witness: the newest anchored head of one data directory, kept in the OS keychain
//! beside the anchor key, which only ever moves forward.
//!
//! The anchor file lives in the data directory, so whoever can write the directory can put back
//! an older anchor (with the rows it certifies) or delete the log and the anchor together; both
//! are consistent on disk and verify. The witness is outside the directory: it records the highest
//! head any anchor of this directory certified, so an anchor or a log behind it is a rollback or a
//! wipe ([`super::BreakKind::RolledBack`]).
//!
//! It is written with every anchor write, under the anchor's lock and after the anchor file (so it
//! never certifies more than the anchor did): a keychain read and, when the head moved, a write,
//! on the anchor keeper's task for inference batches (coalesced, off the writer's path) and before
//! a governance event is answered. It is keyed by the data directory's canonical path: a copy or a
//! restore at another path is another log to it (each copy keeps its own), and a directory
//! someone starts over deliberately keeps reporting the rollback until its entry is deleted
//! (docs/recorder.md says how).

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::anchor::AnchorError;
use super::store::ChainHead;
use crate::secrets::{Keychain, SecretHandle, SecretsError};

/// Prefix of the witness entries' keychain names; the rest identifies the data directory.
pub const WITNESS_HANDLE_PREFIX: &str = "flight-recorder-head-";

const FORMAT: &str = "hsk.recorder_head_witness@1";

#[derive(Serialize, Deserialize)]
struct WitnessEntry {
    format: String,
    seq: i64,
    hash: String,
}

/// The witness entry of one data directory.
#[derive(Clone, Debug)]
pub struct HeadWitness {
    keychain: Keychain,
    handle: SecretHandle,
}

impl HeadWitness {
    /// The witness of `data_dir` (by its canonical path, or the path as given when it cannot be
    /// resolved) in `keychain`.
    pub fn for_data_dir(keychain: Keychain, data_dir: &Path) -> Self {
        let path = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
        Self {
            keychain,
            handle: SecretHandle::new(format!(
                "{WITNESS_HANDLE_PREFIX}{}",
                hex::encode(&digest[..16])
            )),
        }
    }

    /// The keychain entry's name.
    pub fn handle(&self) -> &SecretHandle {
        &self.handle
    }

    /// The witnessed head, `None` if this directory has none yet. An entry that is not a witness
    /// is an error: it could hide a rollback. Blocking.
    pub fn read(&self) -> Result<Option<ChainHead>, AnchorError> {
        let text = match self.keychain.get(&self.handle) {
            Ok(text) => text,
            Err(SecretsError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(AnchorError::Witness(e)),
        };
        let entry: WitnessEntry =
            serde_json::from_str(text.expose_secret()).map_err(|_| self.malformed())?;
        if entry.format != FORMAT || entry.seq < 0 {
            return Err(self.malformed());
        }
        Ok(Some(ChainHead {
            seq: entry.seq,
            hash: entry.hash,
        }))
    }

    /// Records `head` unless the witness is already at it or past it, or it is the genesis;
    /// returns whether it wrote.
    /// Blocking; the caller holds the anchor's lock.
    pub fn advance(&self, head: &ChainHead) -> Result<bool, AnchorError> {
        if head.seq == 0 {
            // An empty log needs no witness (and an empty directory no keychain entry).
            return Ok(false);
        }
        if self.read()?.is_some_and(|current| current.seq >= head.seq) {
            return Ok(false);
        }
        let body = serde_json::to_string(&WitnessEntry {
            format: FORMAT.to_owned(),
            seq: head.seq,
            hash: head.hash.clone(),
        })
        .map_err(|_| self.malformed())?;
        self.keychain
            .set(&self.handle, &SecretString::from(body))
            .map_err(AnchorError::Witness)?;
        Ok(true)
    }

    fn malformed(&self) -> AnchorError {
        AnchorError::BadWitness {
            handle: self.handle.clone(),
        }
    }
}
