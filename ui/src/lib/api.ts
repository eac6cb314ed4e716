// Typed calls into the Rust core. Every command resolves to its result or rejects with a
// CommandError ({code, message}); anything else the IPC layer throws becomes an `ipc` error.
import { invoke } from "@tauri-apps/api/core";
import type { AppInfo, CommandError, DoctorReport } from "./bindings";

export type UiError = CommandError | { code: "ipc"; message: string };

export function toUiError(raw: unknown): UiError {
  if (raw && typeof raw === "object" && "code" in raw && "message" in raw) {
    const { code, message } = raw as { code: unknown; message: unknown };
    if (typeof code === "string" && typeof message === "string") {
      return raw as CommandError;
    }
  }
  return { code: "ipc", message: raw instanceof Error ? raw.message : String(raw) };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw toUiError(raw);
  }
}

export const api = {
  appInfo: () => call<AppInfo>("app_info"),
  doctor: () => call<DoctorReport>("doctor"),
};
