//! The verified mark: where the last successful verification of a data directory stood (the
//! event's `seq` and chain hash), in `recorder.verified` beside the anchor and sealed with the
//! anchor's key, so routine verification walks only what was added since.
//!
//! A mark is a shortcut, never evidence: one that is missing, malformed or not sealed with this
//! directory's key is ignored (the walk starts at the beginning), and one whose event is gone or
//! has another hash sends the walk back to the beginning too, where the break is found and
//! classified. It is written without fsync: a mark lost in a crash costs one full walk.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::anchor::{Anchor, AnchorError};
use super::store::ChainHead;

/// File name of the mark inside the data directory.
pub const VERIFIED_FILE_NAME: &str = "recorder.verified";

const FORMAT: &str = "hsk.recorder_verified@1";

#[derive(Serialize, Deserialize)]
struct MarkFile {
    format: String,
    seq: i64,
    hash: String,
    seal: String,
}

fn path_of(anchor: &Anchor) -> PathBuf {
    anchor.path().with_file_name(VERIFIED_FILE_NAME)
}

fn message(head: &ChainHead) -> Vec<u8> {
    let mut m = head.seq.to_be_bytes().to_vec();
    m.extend_from_slice(head.hash.as_bytes());
    m
}

/// The mark beside `anchor`, if there is one sealed with its key.
pub(crate) fn read(anchor: &Anchor) -> Option<ChainHead> {
    let bytes = std::fs::read(path_of(anchor)).ok()?;
    let file: MarkFile = serde_json::from_slice(&bytes).ok()?;
    let head = ChainHead {
        seq: file.seq,
        hash: file.hash,
    };
    let expected = anchor.seal(FORMAT, &message(&head)).ok()?;
    let sealed = file.format == FORMAT
        && subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), file.seal.as_bytes()).into();
    sealed.then_some(head)
}

/// Records that everything up to `head` verified. Blocking.
pub(crate) fn write(anchor: &Anchor, head: &ChainHead) -> Result<(), AnchorError> {
    let path = path_of(anchor);
    let werr = |source| AnchorError::Write {
        path: path.clone(),
        source,
    };
    let body = serde_json::to_vec(&MarkFile {
        format: FORMAT.to_owned(),
        seq: head.seq,
        hash: head.hash.clone(),
        seal: anchor.seal(FORMAT, &message(head))?,
    })
    .map_err(|e| werr(std::io::Error::other(e)))?;
    let tmp = path.with_extension(format!("verified.{}.tmp", std::process::id()));
    std::fs::write(&tmp, body).map_err(werr)?;
    std::fs::rename(&tmp, &path).map_err(werr)
}

/// Where the mark of the anchor in `data_dir` lives (for tests and docs).
pub fn mark_path(data_dir: &Path) -> PathBuf {
    data_dir.join(VERIFIED_FILE_NAME)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::recorder::anchor::AnchorKey;

    #[test]
    fn a_mark_round_trips_and_is_ignored_when_edited_or_under_another_key() {
        let dir = tempfile::tempdir().unwrap();
        let anchor = Anchor::new(dir.path(), AnchorKey::from_bytes([4; 32]));
        assert_eq!(read(&anchor), None);
        let head = ChainHead {
            seq: 12,
            hash: "ab".repeat(32),
        };
        write(&anchor, &head).unwrap();
        assert_eq!(read(&anchor), Some(head));
        let other = Anchor::new(dir.path(), AnchorKey::from_bytes([5; 32]));
        assert_eq!(read(&other), None);
        let text = std::fs::read_to_string(mark_path(dir.path())).unwrap();
        std::fs::write(mark_path(dir.path()), text.replace("12", "13")).unwrap();
        assert_eq!(read(&anchor), None);
    }
}
