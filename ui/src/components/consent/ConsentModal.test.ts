import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

import ConsentModal from "./ConsentModal.svelte";
import type { PendingEscalation } from "../../lib/bindings";

const HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

function escalation(): PendingEscalation {
  return {
    escalation_id: "pp-1",
    status: "pending",
    plan: {
      schema_version: "hsk.projection_plan@0.4",
      projection_plan_id: "pp-1",
      include_artifact_refs: [],
      redactions_applied: ["api_key", "email"],
      max_bytes: 65536,
      payload_sha256: HASH,
      created_at: "2026-11-28T00:00:00.000Z",
      job_id: "job-1",
    },
    binding: {
      provider_id: "cloud",
      model_id: "cloud/gpt-test",
      job_id: "job-1",
      profile_id: "wp-1",
      trace_id: "00000000-0000-7000-8000-000000000001",
      automation_level: "FULL_HUMAN",
      local_only: false,
      destination: { provider_id: "cloud", origin: "https://api.cloud.example:443", tier: "cloud", revision: 1 },
    },
    preview: "Review this: [REDACTED:api_key]",
    payload_bytes: 32,
    job_escalations_used: 1,
    job_escalations_cap: 3,
    remaining_escalations: 2,
    requires_person: true,
    blocked_reason: null,
  };
}

describe("ConsentModal", () => {
  afterEach(cleanup);
  beforeEach(() => {
    invoke.mockReset();
    invoke.mockResolvedValue({ consent_receipt_id: "cr-1" });
  });

  it("is a labelled modal dialog showing every field of the plan", () => {
    render(ConsentModal, { escalation: escalation(), modelId: "cloud/gpt-test", locked: false, onclose: vi.fn() });
    const dialog = screen.getByRole("dialog");
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(document.getElementById(dialog.getAttribute("aria-labelledby")!)?.textContent).toMatch(/cloud model/);
    expect(screen.getByTestId("consent-provider").textContent).toBe("cloud");
    expect(screen.getByTestId("consent-model").textContent).toBe("cloud/gpt-test");
    expect(screen.getByTestId("consent-host").textContent).toBe("https://api.cloud.example:443");
    expect(screen.getByTestId("consent-tier").textContent).toBe("(cloud)");
    expect(screen.getByTestId("consent-bytes").textContent).toBe("32");
    expect(screen.getByTestId("consent-redactions").textContent).toContain("api_key, email");
    expect(screen.getByTestId("consent-preview").textContent).toBe("Review this: [REDACTED:api_key]");
    expect(screen.getByTestId("consent-hash").textContent).toBe(HASH);
    expect(screen.getByTestId("consent-remaining").textContent?.trim()).toBe("2");
    expect(screen.getByTestId("consent-approve")).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByTestId("consent-deny"));
  });

  it("approve and deny record the decision from the modal surface", async () => {
    const onclose = vi.fn();
    render(ConsentModal, { escalation: escalation(), modelId: "", locked: false, onclose });
    await fireEvent.click(screen.getByTestId("consent-approve"));
    await waitFor(() => expect(onclose).toHaveBeenCalledWith("approved"));
    expect(invoke).toHaveBeenCalledWith("decide_escalation", { escalationId: "pp-1", approve: true, surface: "modal" });
    cleanup();
    onclose.mockReset();
    render(ConsentModal, { escalation: escalation(), modelId: "", locked: false, onclose });
    await fireEvent.click(screen.getByTestId("consent-deny"));
    await waitFor(() => expect(onclose).toHaveBeenCalledWith("denied"));
    expect(invoke).toHaveBeenLastCalledWith("decide_escalation", { escalationId: "pp-1", approve: false, surface: "modal" });
  });

  it("Escape denies", async () => {
    const onclose = vi.fn();
    render(ConsentModal, { escalation: escalation(), modelId: "", locked: false, onclose });
    await fireEvent.keyDown(screen.getByRole("dialog"), { key: "Escape" });
    await waitFor(() => expect(onclose).toHaveBeenCalledWith("denied"));
    expect(invoke).toHaveBeenCalledWith("decide_escalation", { escalationId: "pp-1", approve: false, surface: "modal" });
  });

  it("traps focus: Tab from the last control goes to the first, Shift+Tab from the first to the last", async () => {
    render(ConsentModal, { escalation: escalation(), modelId: "", locked: false, onclose: vi.fn() });
    const dialog = screen.getByRole("dialog");
    const preview = screen.getByTestId("consent-preview");
    const approve = screen.getByTestId("consent-approve");
    approve.focus();
    await fireEvent.keyDown(dialog, { key: "Tab" });
    expect(document.activeElement).toBe(preview);
    await fireEvent.keyDown(dialog, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(approve);
  });

  it("LOCKED says why nothing can be sent and offers no Approve", () => {
    render(ConsentModal, { escalation: escalation(), modelId: "", locked: true, onclose: vi.fn() });
    expect(screen.getByTestId("consent-locked").textContent).toMatch(/LOCKED/);
    expect(screen.queryByTestId("consent-approve")).toBeNull();
    expect(screen.getByTestId("consent-deny")).toBeTruthy();
  });

  it("a LOCKED block without an escalation only closes", async () => {
    const onclose = vi.fn();
    render(ConsentModal, { escalation: null, modelId: "cloud/gpt-test", locked: true, onclose });
    expect(screen.getByTestId("consent-model").textContent).toBe("cloud/gpt-test");
    expect(screen.queryByTestId("consent-approve")).toBeNull();
    await fireEvent.keyDown(screen.getByRole("dialog"), { key: "Escape" });
    expect(onclose).toHaveBeenCalledWith("closed", { locked: true });
    expect(invoke).not.toHaveBeenCalled();
  });

  it("an approval refused because the workspace became LOCKED turns into the LOCKED notice", async () => {
    invoke.mockRejectedValue({ code: "escalation_denied", message: "cloud escalation denied (locked)" });
    const onclose = vi.fn();
    render(ConsentModal, { escalation: escalation(), modelId: "", locked: false, onclose });
    await fireEvent.click(screen.getByTestId("consent-approve"));
    expect(await screen.findByTestId("consent-locked")).toBeTruthy();
    expect(screen.queryByTestId("consent-approve")).toBeNull();
    expect(onclose).not.toHaveBeenCalled();
  });

  it("a refused approval under LOCKED cannot get stuck: only Close, which closes without a decision", async () => {
    invoke.mockRejectedValue({ code: "escalation_denied", message: "cloud escalation denied (locked)" });
    const onclose = vi.fn();
    render(ConsentModal, { escalation: escalation(), modelId: "", locked: false, onclose });
    await fireEvent.click(screen.getByTestId("consent-approve"));
    expect(await screen.findByTestId("consent-locked")).toBeTruthy();
    expect(screen.queryByTestId("consent-approve")).toBeNull();
    expect(screen.queryByTestId("consent-deny")).toBeNull();
    const close = screen.getByTestId("consent-close");
    expect(document.activeElement).toBe(close);
    await fireEvent.keyDown(screen.getByRole("dialog"), { key: "Escape" });
    expect(onclose).toHaveBeenCalledWith("closed", { locked: true });
    expect(invoke).toHaveBeenCalledTimes(1);
    onclose.mockReset();
    await fireEvent.click(close);
    expect(onclose).toHaveBeenCalledWith("closed", { locked: true });
    expect(invoke).toHaveBeenCalledTimes(1);
  });

  it("an escalation already decided is final: the message, no Approve or Deny, and Close", async () => {
    invoke.mockRejectedValue({ code: "already_decided", message: "escalation pp-1 was already decided" });
    const onclose = vi.fn();
    render(ConsentModal, { escalation: escalation(), modelId: "", locked: false, onclose });
    await fireEvent.click(screen.getByTestId("consent-deny"));
    expect((await screen.findByTestId("consent-error")).textContent).toContain("already decided");
    expect(screen.queryByTestId("consent-approve")).toBeNull();
    expect(screen.queryByTestId("consent-deny")).toBeNull();
    expect(onclose).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId("consent-close"));
    expect(onclose).toHaveBeenCalledWith("closed", { locked: false });
    expect(invoke).toHaveBeenCalledTimes(1);
  });

  it("LOCKED with an escalation offers Close, and shows why a denial failed instead of hiding it", async () => {
    invoke.mockRejectedValue({ code: "already_decided", message: "escalation pp-1 was already decided" });
    const onclose = vi.fn();
    render(ConsentModal, { escalation: escalation(), modelId: "", locked: true, onclose });
    expect(screen.getByTestId("consent-close")).toBeTruthy();
    await fireEvent.click(screen.getByTestId("consent-deny"));
    expect((await screen.findByTestId("consent-error")).textContent).toContain("already decided");
    expect(screen.getByTestId("consent-locked")).toBeTruthy();
    expect(screen.queryByTestId("consent-approve")).toBeNull();
    expect(screen.queryByTestId("consent-deny")).toBeNull();
    await fireEvent.keyDown(screen.getByRole("dialog"), { key: "Escape" });
    expect(onclose).toHaveBeenCalledWith("closed", { locked: true });
  });

  it("any failed decision offers Close; Escape then closes instead of deciding again", async () => {
    invoke.mockRejectedValue({ code: "database", message: "database is locked" });
    const onclose = vi.fn();
    render(ConsentModal, { escalation: escalation(), modelId: "", locked: false, onclose });
    await fireEvent.click(screen.getByTestId("consent-approve"));
    expect((await screen.findByTestId("consent-error")).textContent).toContain("database is locked");
    expect(screen.getByTestId("consent-approve")).toBeTruthy();
    expect(screen.getByTestId("consent-close")).toBeTruthy();
    await fireEvent.keyDown(screen.getByRole("dialog"), { key: "Escape" });
    expect(onclose).toHaveBeenCalledWith("closed", { locked: false });
    expect(invoke).toHaveBeenCalledTimes(1);
  });

  it("keeps focus and Escape working after a click on the backdrop", async () => {
    const onclose = vi.fn();
    render(ConsentModal, { escalation: escalation(), modelId: "", locked: false, onclose });
    const dialog = screen.getByRole("dialog");
    (document.activeElement as HTMLElement).blur();
    expect(document.activeElement).toBe(document.body);
    await fireEvent.click(screen.getByTestId("consent-backdrop"));
    expect(dialog.contains(document.activeElement)).toBe(true);
    // Even with focus on body, Tab goes into the dialog and Escape denies.
    (document.activeElement as HTMLElement).blur();
    await fireEvent.keyDown(document.body, { key: "Tab" });
    expect(dialog.contains(document.activeElement)).toBe(true);
    expect(document.activeElement).not.toBe(dialog);
    (document.activeElement as HTMLElement).blur();
    await fireEvent.keyDown(document.body, { key: "Escape" });
    await waitFor(() => expect(onclose).toHaveBeenCalledWith("denied"));
    expect(invoke).toHaveBeenCalledWith("decide_escalation", { escalationId: "pp-1", approve: false, surface: "modal" });
  });

  it("returns focus to the dialog when it moves to the page behind", async () => {
    const outside = document.createElement("button");
    outside.textContent = "behind";
    document.body.appendChild(outside);
    try {
      render(ConsentModal, { escalation: escalation(), modelId: "", locked: false, onclose: vi.fn() });
      const dialog = screen.getByRole("dialog");
      outside.focus();
      expect(dialog.contains(document.activeElement)).toBe(true);
    } finally {
      outside.remove();
    }
  });
});
