//! [`ReceiptLedger`]: which approving receipts were spent, kept outside the data directory, in
//! the OS keychain. Every copy of a data directory on this machine (a `cp -a`, a restored backup)
//! shares the keychain, so a receipt spent from one copy is refused from any other: one approval,
//! one send, whatever happened to the files.
//!
//! One keychain entry ([`RECEIPT_LEDGER_HANDLE`]) holds a JSON map of spent receipt ids to their
//! expiry. A receipt is spent in the ledger *before* the database marks it used and before the
//! send, so a keychain that is locked or unavailable sends nothing and leaves the approval usable
//! for a later try. Entries are dropped a day after their receipt expired: an expired receipt is
//! refused anyway, and its expiry is sealed (see `seal.rs`), so the map stays small. The Secret
//! Service has no compare-and-swap: within a process spends are serialised; two processes
//! spending at the same instant could both read the map before either writes (a window of a few
//! milliseconds, documented in docs/governance.md).

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use crate::secrets::{Keychain, SecretHandle, SecretsError};

/// The keychain entry of the ledger.
pub const RECEIPT_LEDGER_HANDLE: &str = "consent-spent-receipts";

/// How long after its expiry a spent receipt stays in the ledger.
const KEEP_AFTER_EXPIRY_MS: i64 = 24 * 60 * 60 * 1000;

/// Serialises spends in this process (read, check, write of one keychain entry).
static SPEND: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The spent-receipt ledger in the OS keychain.
#[derive(Clone, Debug)]
pub struct ReceiptLedger {
    keychain: Keychain,
}

impl ReceiptLedger {
    /// The ledger in `keychain`.
    pub fn new(keychain: Keychain) -> Self {
        Self { keychain }
    }

    /// Marks `receipt_id` spent. `Ok(false)` when it already was (from this data directory or a
    /// copy of it); an error when the keychain cannot be read or written (nothing is spent).
    pub(super) async fn spend(
        &self,
        receipt_id: &str,
        expires_at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, SecretsError> {
        let _one_at_a_time = SPEND.lock().await;
        let keychain = self.keychain.clone();
        let receipt_id = receipt_id.to_owned();
        tokio::task::spawn_blocking(move || {
            spend_blocking(&keychain, receipt_id, expires_at_ms, now_ms)
        })
        .await
        .map_err(|e| SecretsError::Unavailable {
            detail: format!("keychain task failed: {e}"),
        })?
    }
}

fn spend_blocking(
    keychain: &Keychain,
    receipt_id: String,
    expires_at_ms: i64,
    now_ms: i64,
) -> Result<bool, SecretsError> {
    let handle = SecretHandle::new(RECEIPT_LEDGER_HANDLE);
    let mut spent: BTreeMap<String, i64> = match keychain.get(&handle) {
        Ok(text) => serde_json::from_str(text.expose_secret()).map_err(|_| {
            // Fail closed: an unreadable ledger could hide a spent receipt.
            SecretsError::Rejected {
                handle: handle.clone(),
                detail: "the spent-receipt ledger is not readable".into(),
            }
        })?,
        Err(SecretsError::NotFound { .. }) => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    if spent.contains_key(&receipt_id) {
        return Ok(false);
    }
    spent.retain(|_, expires| expires.saturating_add(KEEP_AFTER_EXPIRY_MS) > now_ms);
    spent.insert(receipt_id, expires_at_ms);
    let text = serde_json::to_string(&spent).map_err(|_| SecretsError::Rejected {
        handle: handle.clone(),
        detail: "the spent-receipt ledger could not be written".into(),
    })?;
    keychain.set(&handle, &SecretString::from(text))?;
    Ok(true)
}
