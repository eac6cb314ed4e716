//! Where results and errors go: stdout for results (text, or JSON with `--json`), stderr for
//! errors (text, or `{"error": {code, message}}` with `--json`).

use std::io::Write;

use serde::Serialize;

use crate::error::{CliError, ErrorBody, ErrorJson};

/// The chosen output mode.
pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether JSON output was asked for.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints a result: `value` as JSON, or the human text `human` builds.
    pub fn result<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        let mut stdout = std::io::stdout().lock();
        let text = if self.json {
            serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        } else {
            human()
        };
        let _ = writeln!(stdout, "{text}");
    }

    /// Prints an error on stderr.
    pub fn error(&self, error: &CliError) {
        let mut stderr = std::io::stderr().lock();
        if self.json {
            let body = ErrorJson {
                error: ErrorBody {
                    code: error.code(),
                    message: error.to_string(),
                    field: error.field(),
                },
            };
            let text = serde_json::to_string(&body).unwrap_or_else(|_| error.to_string());
            let _ = writeln!(stderr, "{text}");
        } else {
            let _ = writeln!(stderr, "hsk: {error}");
        }
    }
}
