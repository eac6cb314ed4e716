// Generated from the Rust types by src-tauri/src/bindings.rs. Do not edit by hand:
// run `UPDATE_BINDINGS=1 cargo test -p handshake bindings` instead.

export type ErrorCode = "startup_failed" | "database";

export type CommandError = { code: ErrorCode, message: string, };

export type AppInfo = { version: string, data_dir: string, database_path: string, schema_version: number, };

export type CheckState = "ok" | "failed" | "absent";

export type Check = { name: string, state: CheckState, required: boolean, detail: string, };

export type DoctorReport = { version: string, data_dir: string, schema_version: number | null, supported_schema_version: number, checks: Array<Check>, ok: boolean, };

export type ProviderKind = "ollama" | "openai_compat";

export type ProviderTier = "local" | "cloud";

export type TokenUsage = { prompt_tokens: number | null, completion_tokens: number | null, };

export type FinishReason = "stop" | "length" | "content_filter" | "tool_calls" | "load" | "unload";

export type StreamEvent = { "type": "started", model_id: string, } | { "type": "text", delta: string, } | { "type": "usage", usage: TokenUsage, } | { "type": "finished", finish_reason: FinishReason, prompt_truncated: boolean, };
