//! `hsk`: Handshake's command line. A thin shell over `handshake-core`: it parses arguments, calls
//! the core and prints the result (human text, or JSON with `--json`). Errors go to stderr with a
//! non-zero exit code.

mod cli;
mod commands;
mod error;
mod output;
mod secret_input;

use clap::Parser;

use crate::cli::Cli;
use crate::output::Output;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr. With --json stderr carries the one JSON error, so logs are off unless
    // HSK_LOG asks for them; otherwise errors only (the command's own error says the rest).
    let default_filter = if cli.json { "off" } else { "error" };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HSK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
    let out = Output::new(cli.json);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            out.error(&error::CliError::Runtime(e.to_string()));
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::dispatch(cli, &out)) {
        Ok(code) => code,
        Err(e) => {
            out.error(&e);
            std::process::ExitCode::from(e.exit_code())
        }
    }
}
