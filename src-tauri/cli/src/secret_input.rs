//! Reading secrets (API keys, secret header values) from stdin, never from the command line.
//!
//! Piped stdin gives one secret per line, in the order the command asks for them. An interactive
//! stdin (a terminal) is prompted on stderr with echo turned off, so the secret never shows on
//! screen, in argv or in the shell history. The value is held as a [`SecretString`] at once.

use std::io::{BufRead, IsTerminal, Write};

use secrecy::SecretString;

use crate::error::CliError;

/// Reads one secret: the next line of piped stdin, or a hidden prompt on a terminal. `what` names
/// it in the prompt and in the error when nothing came (never the value).
pub fn read_secret(what: &str) -> Result<SecretString, CliError> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    let read = if stdin.is_terminal() {
        // Echo goes off before the prompt shows: a key pasted (or typed) the instant the prompt
        // appears must not reach the screen in the moment between the two.
        let echo = EchoOff::new();
        let mut stderr = std::io::stderr();
        let _ = write!(stderr, "{what} (input hidden): ");
        let _ = stderr.flush();
        let read = stdin.lock().read_line(&mut line);
        drop(echo);
        let _ = writeln!(stderr);
        read
    } else {
        stdin.lock().read_line(&mut line)
    };
    read.map_err(|source| CliError::io("cannot read", "stdin", source))?;
    let value = line.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        return Err(CliError::NoSecretInput {
            what: what.to_owned(),
        });
    }
    Ok(SecretString::from(value.to_owned()))
}

/// Terminal echo turned off until dropped (a no-op where termios is not available).
struct EchoOff {
    #[cfg(unix)]
    saved: Option<rustix::termios::Termios>,
}

impl EchoOff {
    #[cfg(unix)]
    fn new() -> Self {
        use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok();
        if let Some(original) = &saved {
            let mut quiet = original.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            if tcsetattr(&stdin, OptionalActions::Now, &quiet).is_err() {
                return Self { saved: None };
            }
        }
        Self { saved }
    }

    #[cfg(not(unix))]
    fn new() -> Self {
        Self {}
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(original) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                original,
            );
        }
    }
}
