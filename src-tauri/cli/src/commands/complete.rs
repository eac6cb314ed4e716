//! `hsk complete`: one completion through the full local path (registry, egress, recording layer,
//! adapter), printed whole or streamed.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use futures::StreamExt;
use handshake_core::llm::{CompletionRequest, LlmError, StreamEvent};
use handshake_core::Handshake;

use crate::cli::CompleteArgs;
use crate::error::CliError;
use crate::output::Output;

pub async fn run(
    data_dir: Option<PathBuf>,
    args: CompleteArgs,
    out: &Output,
) -> Result<ExitCode, CliError> {
    let core = Handshake::open(data_dir).await?;
    let result = complete(&core, args, out).await;
    // Flush the Flight Recorder and end the session cleanly before exiting, whatever the outcome.
    let flushed = core.close().await;
    result?;
    flushed?;
    Ok(ExitCode::SUCCESS)
}

async fn complete(core: &Handshake, args: CompleteArgs, out: &Output) -> Result<(), CliError> {
    let model_id = format!("{}/{}", args.provider, args.model);
    let client = core.client_for(&model_id).await?;
    let request = CompletionRequest {
        trace_id: args.trace_id.unwrap_or_else(uuid::Uuid::now_v7),
        prompt: args.prompt,
        model_id,
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        stop_sequences: args.stop,
    };
    let trace_id = request.trace_id;
    if !args.stream {
        let response = client.completion(request).await?;
        let value = serde_json::json!({ "trace_id": trace_id, "response": response });
        out.result(&value, || response.text.clone());
        return Ok(());
    }
    let mut stream = client.completion_stream(request).await?;
    let mut stdout = std::io::stdout().lock();
    while let Some(item) = stream.next().await {
        let event = item?;
        if out.is_json() {
            let line = serde_json::to_string(&event).map_err(|e| LlmError::MalformedResponse {
                what: e.to_string(),
            })?;
            let _ = writeln!(stdout, "{line}");
        } else if let StreamEvent::Text { delta } = &event {
            let _ = write!(stdout, "{delta}");
            let _ = stdout.flush();
        } else if let StreamEvent::Finished { .. } = &event {
            let _ = writeln!(stdout);
        }
    }
    Ok(())
}
