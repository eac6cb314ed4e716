// Typed calls into the Rust core. Every command resolves to its result or rejects with a
// UiError: the CommandError the command returned ({code, message, field, field_errors}), or an
// `ipc` error for anything else the IPC layer throws. One file per domain sits beside this one.
import { invoke } from "@tauri-apps/api/core";
import type { CommandError } from "../bindings";

export type UiError = CommandError;

export function toUiError(raw: unknown): UiError {
  if (raw && typeof raw === "object" && "code" in raw && "message" in raw) {
    const r = raw as Partial<CommandError>;
    if (typeof r.code === "string" && typeof r.message === "string") {
      return {
        code: r.code,
        message: r.message,
        field: typeof r.field === "string" ? r.field : null,
        field_errors: Array.isArray(r.field_errors) ? r.field_errors : [],
      };
    }
  }
  return {
    code: "ipc",
    message: raw instanceof Error ? raw.message : String(raw),
    field: null,
    field_errors: [],
  };
}

/** Calls a Tauri command; rejects with a UiError. */
export async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw toUiError(raw);
  }
}
