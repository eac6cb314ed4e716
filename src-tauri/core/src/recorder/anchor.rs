//! The head anchor: the chain's head (sequence and hash) kept in a file outside the database
//! (`recorder.anchor` in the data directory), authenticated with HMAC-SHA256 under a key kept in
//! the OS keychain.
//!
//! A hash chain alone cannot see a truncated tail; the anchor can: a database head behind the
//! anchor means events were removed. The anchor is written after the commit it describes is
//! durable (temp file, fsync, rename, fsync of the directory), so a crash in between leaves the
//! anchor behind the head, which verification accepts (the chain extends past the anchor).
//! Someone who can edit the database but not read the keychain cannot forge a matching anchor.
//!
//! Several processes may record into one data directory at once (the app and `hsk`). Every
//! read-then-write or read-then-compare of the anchor holds an advisory lock on
//! `recorder.anchor.lock` ([`Anchor::lock`]), and a writer only ever moves the anchor forward
//! ([`Anchor::advance`]): a process that committed earlier but anchors later never puts the anchor
//! back, and a process that opens or verifies reads the anchor before the database, so what it
//! reads from the database is never behind what the anchor certifies.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::store::ChainHead;
use super::witness::HeadWitness;
use crate::secrets::{Keychain, SecretHandle, SecretsError};

/// File name of the anchor inside the data directory.
pub const ANCHOR_FILE_NAME: &str = "recorder.anchor";

/// File name of the anchor's lock inside the data directory (always empty; only locked).
pub const ANCHOR_LOCK_FILE_NAME: &str = "recorder.anchor.lock";

/// Keychain entry holding the anchor's HMAC key (hex).
pub const ANCHOR_KEY_HANDLE: &str = "flight-recorder-anchor-key";

const FORMAT: &str = "hsk.recorder_anchor@1";

/// The HMAC key. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct AnchorKey([u8; 32]);

impl AnchorKey {
    /// A key from fixed bytes (tests, or a key the caller manages itself).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn generate() -> Self {
        // Two v4 UUIDs come from the OS CSPRNG (getrandom): 244 random bits, spread by SHA-256.
        let mut h = Sha256::new();
        h.update(uuid::Uuid::new_v4().as_bytes());
        h.update(uuid::Uuid::new_v4().as_bytes());
        Self(h.finalize().into())
    }
}

impl std::fmt::Debug for AnchorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AnchorKey(<redacted>)")
    }
}

/// Where the anchor's HMAC key comes from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// The OS keychain, entry [`ANCHOR_KEY_HANDLE`]; generated and stored on first use.
    Keychain(Keychain),
    /// A key the caller holds (tests without a keychain).
    Fixed(AnchorKey),
}

impl KeySource {
    /// The anchor of `data_dir`: its key loaded (see [`KeySource::load`]), and, when the key is in
    /// the keychain, the directory's head witness beside it ([`HeadWitness`]).
    pub async fn anchor(&self, data_dir: &Path) -> Result<Anchor, AnchorError> {
        let anchor = Anchor::new(data_dir, self.load().await?);
        Ok(match self {
            Self::Keychain(keychain) => {
                anchor.with_witness(HeadWitness::for_data_dir(keychain.clone(), data_dir))
            }
            Self::Fixed(_) => anchor,
        })
    }

    /// Loads the key, generating and storing it in the keychain on first use.
    pub async fn load(&self) -> Result<AnchorKey, AnchorError> {
        match self {
            Self::Fixed(key) => Ok(key.clone()),
            Self::Keychain(keychain) => {
                let keychain = keychain.clone();
                tokio::task::spawn_blocking(move || load_or_create(&keychain))
                    .await
                    .map_err(|e| {
                        AnchorError::Key(SecretsError::Unavailable {
                            detail: format!("keychain task failed: {e}"),
                        })
                    })?
            }
        }
    }
}

fn load_or_create(keychain: &Keychain) -> Result<AnchorKey, AnchorError> {
    let handle = SecretHandle::new(ANCHOR_KEY_HANDLE);
    match keychain.get(&handle) {
        Ok(secret) => {
            let bytes = hex::decode(secret.expose_secret()).map_err(|_| AnchorError::BadKey)?;
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| AnchorError::BadKey)?;
            Ok(AnchorKey(bytes))
        }
        Err(SecretsError::NotFound { .. }) => {
            let key = AnchorKey::generate();
            keychain
                .set(&handle, &SecretString::from(hex::encode(key.0)))
                .map_err(AnchorError::Key)?;
            Ok(key)
        }
        Err(e) => Err(AnchorError::Key(e)),
    }
}

/// Why the anchor could not be read, written or trusted.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("cannot load the Flight Recorder anchor key from the keychain: {0}")]
    Key(SecretsError),
    #[error("the Flight Recorder anchor key in the keychain is not 32 hex-encoded bytes; delete the entry {ANCHOR_KEY_HANDLE} only if you accept losing tail-truncation detection for existing events")]
    BadKey,
    #[error("cannot write the anchor file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the anchor file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the anchor file {path} is malformed")]
    Malformed { path: PathBuf },
    #[error("the anchor file {path} does not carry a valid signature (edited, or written under another key)")]
    BadSignature { path: PathBuf },
    #[error("cannot read or write the Flight Recorder's head witness in the keychain: {0}")]
    Witness(SecretsError),
    #[error("the keychain entry {handle} is not a Flight Recorder head witness; it is left as evidence (delete it only to accept this data directory's log as it is)")]
    BadWitness { handle: SecretHandle },
    #[error("cannot lock the anchor through {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the anchor certifies: the head, where the chain starts (the newest retention checkpoint,
/// or the genesis), and a retention checkpoint about to be committed (written before its commit,
/// so a crash on either side of that commit is told apart from a forged checkpoint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorState {
    pub head: ChainHead,
    pub base: ChainHead,
    pub pending_base: Option<ChainHead>,
}

impl AnchorState {
    /// `head` of a chain that starts at the genesis, with no retention pending.
    pub fn at(head: ChainHead) -> Self {
        Self {
            head,
            base: ChainHead::genesis(),
            pending_base: None,
        }
    }

    /// Whether `base` (the database's newest checkpoint, or the genesis) is one the anchor knows.
    pub fn knows_base(&self, base: &ChainHead) -> bool {
        &self.base == base || self.pending_base.as_ref() == Some(base)
    }

    /// Whether this state certifies a later point of the log than `current`: a later head; at the
    /// same head, a later retention base; at the same base, a retention pending. (A retention
    /// holds the database's write lock from its pending anchor to its commit, so no other writer
    /// can anchor a later head in between, and every later writer reads the new base.)
    pub fn supersedes(&self, current: &AnchorState) -> bool {
        let rank = |s: &AnchorState| {
            (
                s.head.seq,
                s.base.seq,
                s.pending_base.as_ref().map(|p| p.seq),
            )
        };
        rank(self) > rank(current)
    }
}

/// Longest wait for the anchor's lock. Every holder keeps it for one small file read and write; a
/// holder that stopped (a process suspended in a debugger) must not hang governance actions
/// everywhere else, so a wait this long fails as an anchor error instead.
pub const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

fn lock_patiently(file: std::fs::File, path: PathBuf) -> Result<AnchorLock, AnchorError> {
    lock_within(file, path, LOCK_PATIENCE)
}

fn lock_within(
    file: std::fs::File,
    path: PathBuf,
    patience: std::time::Duration,
) -> Result<AnchorLock, AnchorError> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(AnchorLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(AnchorError::Lock {
                    path,
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "another process has held the anchor's lock for too long",
                    ),
                })
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(AnchorError::Lock { path, source })
            }
        }
    }
}

/// An exclusive hold on one data directory's anchor, released when dropped (or when the process
/// dies: the operating system drops the advisory lock with the file).
#[derive(Debug)]
pub struct AnchorLock {
    _file: std::fs::File,
}

#[derive(Serialize, Deserialize)]
struct AnchorFile {
    format: String,
    seq: i64,
    hash: String,
    base_seq: i64,
    base_hash: String,
    pending_seq: Option<i64>,
    pending_hash: Option<String>,
    mac: String,
}

/// The anchor file of one data directory.
#[derive(Clone, Debug)]
pub struct Anchor {
    path: PathBuf,
    key: AnchorKey,
    witness: Option<HeadWitness>,
}

impl Anchor {
    /// The anchor in `data_dir`, signed with `key`.
    pub fn new(data_dir: &Path, key: AnchorKey) -> Self {
        Self {
            path: data_dir.join(ANCHOR_FILE_NAME),
            key,
            witness: None,
        }
    }

    /// This anchor with `witness` kept beside it: every anchor write also moves the witness
    /// forward, and [`Anchor::witnessed`] reads it.
    pub fn with_witness(mut self, witness: HeadWitness) -> Self {
        self.witness = Some(witness);
        self
    }

    /// The head the keychain witnesses for this directory: `None` without a witness or before the
    /// first one. Blocking; read it under the lock, after the anchor and before the database.
    pub fn witnessed(&self) -> Result<Option<ChainHead>, AnchorError> {
        match &self.witness {
            Some(witness) => witness.read(),
            None => Ok(None),
        }
    }

    /// The anchor file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_path(&self) -> PathBuf {
        self.path.with_file_name(ANCHOR_LOCK_FILE_NAME)
    }

    /// Waits (at most [`LOCK_PATIENCE`]) for the exclusive lock on this anchor, creating the lock
    /// file if needed. Blocking: call it off the async executor, or use [`Anchor::lock_async`].
    pub fn lock(&self) -> Result<AnchorLock, AnchorError> {
        let path = self.lock_path();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| AnchorError::Lock {
                path: path.clone(),
                source,
            })?;
        lock_patiently(file, path)
    }

    /// The lock for a reader (`verify`): taken if the lock file exists, `None` if it does not
    /// (no writer of this version has used the directory, so none is writing it). Never creates a
    /// file, so a copied or read-only data directory can be verified. Blocking.
    pub fn lock_if_present(&self) -> Result<Option<AnchorLock>, AnchorError> {
        let path = self.lock_path();
        match std::fs::File::open(&path) {
            Ok(file) => lock_patiently(file, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(AnchorError::Lock { path, source }),
        }
    }

    /// [`Anchor::lock`] on the blocking pool.
    pub async fn lock_async(&self) -> Result<AnchorLock, AnchorError> {
        self.locking_on_blocking_pool(Self::lock).await
    }

    /// [`Anchor::lock_if_present`] on the blocking pool.
    pub async fn lock_if_present_async(&self) -> Result<Option<AnchorLock>, AnchorError> {
        self.locking_on_blocking_pool(Self::lock_if_present).await
    }

    /// Runs `lock` (which may wait for another process) off the async threads.
    async fn locking_on_blocking_pool<T: Send + 'static>(
        &self,
        lock: fn(&Self) -> Result<T, AnchorError>,
    ) -> Result<T, AnchorError> {
        let anchor = self.clone();
        tokio::task::spawn_blocking(move || lock(&anchor))
            .await
            .map_err(|e| AnchorError::Lock {
                path: self.lock_path(),
                source: std::io::Error::other(e),
            })?
    }

    /// Under the lock, writes `state` unless the anchor already certifies it or a later point
    /// ([`AnchorState::supersedes`]); returns whether it wrote. An anchor that cannot be read or
    /// authenticated is left alone (it is evidence) and reported as the error. Blocking.
    pub fn advance(&self, state: &AnchorState) -> Result<bool, AnchorError> {
        let _lock = self.lock()?;
        if let Some(current) = self.read()? {
            if !state.supersedes(&current) {
                return Ok(false);
            }
        }
        self.write(state)?;
        Ok(true)
    }

    /// HMAC-SHA256 (lowercase hex) of `message` under this anchor's key, separated by `domain`:
    /// how other modules authenticate records they keep in the database (consent plans and
    /// receipts), with the key that never leaves the keychain.
    pub fn seal(&self, domain: &str, message: &[u8]) -> Result<String, AnchorError> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key.0).map_err(|_| AnchorError::BadKey)?;
        mac.update(&(domain.len() as u64).to_be_bytes());
        mac.update(domain.as_bytes());
        mac.update(message);
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    fn mac(&self, state: &AnchorState) -> Result<Hmac<Sha256>, AnchorError> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key.0).map_err(|_| AnchorError::BadKey)?;
        mac.update(FORMAT.as_bytes());
        mac.update(b"\n");
        let mut link = |h: &ChainHead| {
            mac.update(&h.seq.to_be_bytes());
            mac.update(&(h.hash.len() as u64).to_be_bytes());
            mac.update(h.hash.as_bytes());
        };
        link(&state.head);
        link(&state.base);
        match &state.pending_base {
            Some(p) => {
                link(p);
                mac.update(&[1]);
            }
            None => mac.update(&[0]),
        }
        Ok(mac)
    }

    /// Writes `state` atomically and durably, whatever the anchor held, then moves the head
    /// witness (if any) forward to its head. Blocking: call it off the
    /// async executor. A process sharing the data directory with others holds [`Anchor::lock`]
    /// (or uses [`Anchor::advance`]).
    pub fn write(&self, state: &AnchorState) -> Result<(), AnchorError> {
        let werr = |source| AnchorError::Write {
            path: self.path.clone(),
            source,
        };
        let mac = hex::encode(self.mac(state)?.finalize().into_bytes());
        let body = serde_json::to_vec(&AnchorFile {
            format: FORMAT.to_owned(),
            seq: state.head.seq,
            hash: state.head.hash.clone(),
            base_seq: state.base.seq,
            base_hash: state.base.hash.clone(),
            pending_seq: state.pending_base.as_ref().map(|p| p.seq),
            pending_hash: state.pending_base.as_ref().map(|p| p.hash.clone()),
            mac,
        })
        .map_err(|e| werr(std::io::Error::other(e)))?;
        // One temp file per process: the app and `hsk` may anchor the same data directory at once.
        let tmp = self
            .path
            .with_extension(format!("anchor.{}.tmp", std::process::id()));
        {
            let mut file = std::fs::File::create(&tmp).map_err(werr)?;
            file.write_all(&body).map_err(werr)?;
            file.sync_all().map_err(werr)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(werr)?;
        if let Some(dir) = self.path.parent() {
            // Makes the rename itself durable (POSIX); not possible to open a directory on Windows.
            #[cfg(unix)]
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(werr)?;
            #[cfg(not(unix))]
            let _ = dir;
        }
        if let Some(witness) = &self.witness {
            witness.advance(&state.head)?;
        }
        Ok(())
    }

    /// Reads and authenticates the anchor; `None` if there is no anchor file.
    pub fn read(&self) -> Result<Option<AnchorState>, AnchorError> {
        let malformed = || AnchorError::Malformed {
            path: self.path.clone(),
        };
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(AnchorError::Read {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let file: AnchorFile = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        if file.format != FORMAT {
            return Err(malformed());
        }
        let pending_base = match (file.pending_seq, file.pending_hash) {
            (Some(seq), Some(hash)) => Some(ChainHead { seq, hash }),
            (None, None) => None,
            _ => return Err(malformed()),
        };
        let state = AnchorState {
            head: ChainHead {
                seq: file.seq,
                hash: file.hash,
            },
            base: ChainHead {
                seq: file.base_seq,
                hash: file.base_hash,
            },
            pending_base,
        };
        let mac = hex::decode(&file.mac).map_err(|_| malformed())?;
        self.mac(&state)?
            .verify_slice(&mac)
            .map_err(|_| AnchorError::BadSignature {
                path: self.path.clone(),
            })?;
        Ok(Some(state))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_edits_and_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let anchor = Anchor::new(dir.path(), AnchorKey::from_bytes([7; 32]));
        assert_eq!(anchor.read().unwrap(), None);
        let head = AnchorState {
            head: ChainHead {
                seq: 42,
                hash: "ab".repeat(32),
            },
            base: ChainHead {
                seq: 7,
                hash: "cd".repeat(32),
            },
            pending_base: Some(ChainHead {
                seq: 9,
                hash: "ef".repeat(32),
            }),
        };
        anchor.write(&head).unwrap();
        assert_eq!(anchor.read().unwrap(), Some(head.clone()));
        let plain = AnchorState::at(head.head.clone());
        anchor.write(&plain).unwrap();
        assert_eq!(anchor.read().unwrap(), Some(plain));
        assert!(
            head.knows_base(&head.base) && head.knows_base(head.pending_base.as_ref().unwrap())
        );
        assert!(!head.knows_base(&ChainHead::genesis()));
        assert!(!dir
            .path()
            .join(format!("recorder.anchor.{}.tmp", std::process::id()))
            .exists());

        let other = Anchor::new(dir.path(), AnchorKey::from_bytes([8; 32]));
        assert!(matches!(
            other.read(),
            Err(AnchorError::BadSignature { .. })
        ));

        let text = std::fs::read_to_string(anchor.path())
            .unwrap()
            .replace("42", "41");
        std::fs::write(anchor.path(), text).unwrap();
        assert!(matches!(
            anchor.read(),
            Err(AnchorError::BadSignature { .. })
        ));
        std::fs::write(anchor.path(), b"not json").unwrap();
        assert!(matches!(anchor.read(), Err(AnchorError::Malformed { .. })));
    }

    fn state(head: i64, base: i64, pending: Option<i64>) -> AnchorState {
        let link = |seq: i64| ChainHead {
            seq,
            hash: format!("{seq:064}"),
        };
        AnchorState {
            head: link(head),
            base: link(base),
            pending_base: pending.map(link),
        }
    }

    #[test]
    fn a_later_point_supersedes_an_earlier_one() {
        // A later head; at one head, a later base; at one base, a pending retention.
        assert!(state(5, 0, None).supersedes(&state(4, 0, None)));
        assert!(!state(4, 0, None).supersedes(&state(5, 0, None)));
        assert!(state(5, 0, Some(3)).supersedes(&state(5, 0, None)));
        assert!(state(5, 3, None).supersedes(&state(5, 0, Some(3))));
        // A writer that committed before the retention and anchors after it: not written.
        assert!(!state(5, 0, None).supersedes(&state(5, 0, Some(3))));
        assert!(!state(5, 0, None).supersedes(&state(5, 3, None)));
        assert!(!state(5, 0, None).supersedes(&state(5, 0, None)));
    }

    #[test]
    fn advance_never_moves_back_and_leaves_an_unreadable_anchor_alone() {
        let dir = tempfile::tempdir().unwrap();
        let anchor = Anchor::new(dir.path(), AnchorKey::from_bytes([7; 32]));
        assert!(anchor.advance(&state(3, 0, None)).unwrap());
        assert!(anchor.advance(&state(5, 0, None)).unwrap());
        assert!(!anchor.advance(&state(4, 0, None)).unwrap());
        assert_eq!(anchor.read().unwrap(), Some(state(5, 0, None)));
        assert!(dir.path().join(ANCHOR_LOCK_FILE_NAME).exists());

        std::fs::write(anchor.path(), b"not json").unwrap();
        assert!(matches!(
            anchor.advance(&state(9, 0, None)),
            Err(AnchorError::Malformed { .. })
        ));
        assert_eq!(std::fs::read(anchor.path()).unwrap(), b"not json");
    }

    #[test]
    fn the_lock_is_exclusive_between_handles() {
        let dir = tempfile::tempdir().unwrap();
        let anchor = Anchor::new(dir.path(), AnchorKey::from_bytes([7; 32]));
        let held = anchor.lock().unwrap();
        let other = std::fs::File::open(dir.path().join(ANCHOR_LOCK_FILE_NAME)).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop(held);
        other.try_lock().unwrap();
    }

    #[test]
    fn a_lock_held_too_long_is_an_error_and_readers_need_no_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let anchor = Anchor::new(dir.path(), AnchorKey::from_bytes([7; 32]));
        // Nothing has written here: a reader goes without the lock and creates nothing.
        assert!(anchor.lock_if_present().unwrap().is_none());
        assert!(!dir.path().join(ANCHOR_LOCK_FILE_NAME).exists());

        let held = anchor.lock().unwrap();
        let path = dir.path().join(ANCHOR_LOCK_FILE_NAME);
        let other = std::fs::File::open(&path).unwrap();
        match lock_within(other, path, std::time::Duration::from_millis(50)) {
            Err(AnchorError::Lock { source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::TimedOut)
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        drop(held);
        assert!(anchor.lock_if_present().unwrap().is_some());
    }

    #[test]
    fn key_debug_is_redacted() {
        let printed = format!("{:?}", KeySource::Fixed(AnchorKey::from_bytes([0xAB; 32])));
        assert!(!printed.to_lowercase().contains("abab"), "{printed}");
        assert!(!printed.contains("171"), "{printed}");
    }
}
