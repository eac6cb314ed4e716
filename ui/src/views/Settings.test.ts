import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { Governance } from "../lib/bindings";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

import Settings from "./Settings.svelte";

let stored: Governance;

beforeEach(() => {
  stored = { mode: "STANDARD", standing_rule: null };
  invoke.mockReset();
  invoke.mockImplementation(async (cmd: string, args: Record<string, any>) => {
    switch (cmd) {
      case "app_info":
        return { version: "9.9.9", data_dir: "/d", database_path: "/d/handshake.db", schema_version: 5 };
      case "doctor":
        return {
          version: "9.9.9", data_dir: "/d", schema_version: 5, supported_schema_version: 5, ok: true,
          checks: [{ name: "keychain", state: "ok", required: true, detail: "stored, read back and deleted a probe entry" }],
        };
      case "governance":
        return stored;
      case "set_governance_mode":
        stored = { ...stored, mode: args.mode };
        return stored;
      case "set_standing_rule":
        stored = { ...stored, standing_rule: args.rule && { set_by_user_id: "alice", ...args.rule } };
        return stored;
      default:
        throw { code: "internal", message: `unexpected ${cmd}` };
    }
  });
});
afterEach(cleanup);

describe("Settings", () => {
  it("switches to LOCKED and back through the core, saying what LOCKED means", async () => {
    render(Settings);
    await waitFor(() => expect(screen.getByTestId("settings-mode").dataset.mode).toBe("STANDARD"));
    await fireEvent.click(screen.getByTestId("settings-mode-locked"));
    expect(invoke).toHaveBeenCalledWith("set_governance_mode", { mode: "LOCKED" });
    await waitFor(() => expect(screen.getByTestId("settings-mode").dataset.mode).toBe("LOCKED"));
    expect(screen.getByTestId("settings-mode-status").textContent).toContain("nothing leaves this machine");
    await fireEvent.click(screen.getByTestId("settings-mode-standard"));
    expect(invoke).toHaveBeenCalledWith("set_governance_mode", { mode: "STANDARD" });
    await waitFor(() => expect(screen.getByTestId("settings-mode").dataset.mode).toBe("STANDARD"));
  });

  it("shows a refused switch and keeps the stored mode", async () => {
    render(Settings);
    await waitFor(() => expect(screen.getByTestId("settings-mode").dataset.mode).toBe("STANDARD"));
    invoke.mockImplementationOnce(async () => {
      throw { code: "database", message: "database is locked", field: null, field_errors: [] };
    });
    await fireEvent.click(screen.getByTestId("settings-mode-locked"));
    expect((await screen.findByTestId("settings-governance-error")).textContent).toContain("database is locked");
    expect(screen.getByTestId("settings-mode").dataset.mode).toBe("STANDARD");
  });

  it("after a refused switch the radios show the stored mode again", async () => {
    render(Settings);
    await waitFor(() => expect(screen.getByTestId("settings-mode").dataset.mode).toBe("STANDARD"));
    invoke.mockImplementationOnce(async () => {
      throw { code: "database", message: "database is locked", field: null, field_errors: [] };
    });
    const locked = screen.getByTestId("settings-mode-locked") as HTMLInputElement;
    const standard = screen.getByTestId("settings-mode-standard") as HTMLInputElement;
    await fireEvent.click(locked);
    await screen.findByTestId("settings-governance-error");
    await waitFor(() => expect(locked.disabled).toBe(false));
    expect(locked.checked).toBe(false);
    expect(standard.checked).toBe(true);
    // And a later successful switch still works.
    await fireEvent.click(locked);
    await waitFor(() => expect(screen.getByTestId("settings-mode").dataset.mode).toBe("LOCKED"));
    expect(locked.checked).toBe(true);
    expect(standard.checked).toBe(false);
  });

  it("sets and removes the standing rule, checking it first", async () => {
    render(Settings);
    await screen.findByTestId("settings-rule-providers");
    await fireEvent.input(screen.getByTestId("settings-rule-providers"), { target: { value: "" } });
    await fireEvent.click(screen.getByTestId("settings-rule-save"));
    expect((await screen.findByTestId("settings-rule-error")).textContent).toContain("at least one provider");
    expect(invoke).not.toHaveBeenCalledWith("set_standing_rule", expect.anything());

    await fireEvent.input(screen.getByTestId("settings-rule-providers"), { target: { value: "open, groq" } });
    await fireEvent.input(screen.getByTestId("settings-rule-max-bytes"), { target: { value: "2048" } });
    await fireEvent.click(screen.getByTestId("settings-rule-save"));
    expect(invoke).toHaveBeenCalledWith("set_standing_rule", { rule: { provider_ids: ["open", "groq"], max_payload_bytes: 2048 } });
    await waitFor(() => expect(screen.getByTestId("settings-rule").textContent).toContain("2048 bytes"));
    await fireEvent.click(screen.getByTestId("settings-rule-remove"));
    expect(invoke).toHaveBeenCalledWith("set_standing_rule", { rule: null });
    await waitFor(() => expect(screen.getByTestId("settings-rule").textContent).toContain("No standing rule"));
  });

  it("shows the keychain status from the health checks", async () => {
    render(Settings);
    await waitFor(() => expect(screen.getByTestId("settings-keychain").dataset.state).toBe("ok"));
    expect(screen.getByTestId("settings-keychain").textContent).toContain("available");
  });
});
