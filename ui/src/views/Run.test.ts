import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({
  invoke: (...args: unknown[]) => invoke(...args),
  Channel: class {
    onmessage: (m: unknown) => void = () => {};
  },
}));

import Run from "./Run.svelte";
import { runState } from "../lib/runState.svelte";
import type { RunChoices, RunMessage } from "../lib/bindings";

const CHOICES: RunChoices = {
  mode: "STANDARD",
  profiles: [
    {
      profile_id: "wp-1",
      name: "Local first",
      active: true,
      roles: [{ role: "worker", primary_model_id: "oll/gemma3:270m" }],
      file_types: [],
      task_types: ["review"],
      allow_cloud_escalation: true,
    },
  ],
};

type Channel = { onmessage: (m: RunMessage) => void };

describe("Run view", () => {
  let channel: Channel | null;
  afterEach(cleanup);
  beforeEach(() => {
    runState.reset();
    channel = null;
    invoke.mockReset();
    invoke.mockImplementation(async (cmd: string, args: Record<string, unknown>) => {
      if (cmd === "run_choices") return CHOICES;
      if (cmd === "start_run") {
        channel = args.channel as Channel;
        return { run_id: "run-1", job_id: "job-1" };
      }
      if (cmd === "cancel_run") {
        channel?.onmessage({ type: "failed", error: { code: "cancelled", message: "cancelled", field: null, field_errors: [] }, deny_reason: null });
        return true;
      }
      throw { code: "database", message: `unexpected ${cmd}` };
    });
  });

  it("shows the empty state when there are no profiles", async () => {
    invoke.mockResolvedValueOnce({ mode: "STANDARD", profiles: [] });
    render(Run);
    expect(await screen.findByTestId("run-empty")).toBeTruthy();
    expect(screen.getByTestId("run-title").textContent).toBe("Run");
  });

  it("streams deltas into the output with the resolved model, tokens and latency", async () => {
    render(Run);
    await fireEvent.input(await screen.findByTestId("run-prompt"), { target: { value: "Say hi" } });
    await fireEvent.click(screen.getByTestId("run-start"));
    await waitFor(() => expect(channel).not.toBeNull());
    const [, args] = invoke.mock.calls.find(([c]) => c === "start_run")!;
    expect(args.run).toMatchObject({ profile_id: null, role: "worker", prompt: "Say hi", max_tokens: 256 });
    const send = (m: RunMessage) => channel!.onmessage(m);
    send({
      type: "event",
      event: {
        type: "resolved",
        resolution: {
          job_id: "job-1", profile_id: "wp-1", role: "worker", file_type: null, task_type: null, rule: "base",
          chosen_model_id: "oll/gemma3:270m", chosen_slot: "primary", chosen_tier: "local",
          requires_escalation: false, crossed_to_cloud: false, passed_over: [],
        },
      },
    });
    send({ type: "event", event: { type: "text", delta: "Hel" } });
    await waitFor(() => expect(screen.getByTestId("run-output").textContent).toBe("Hel"));
    expect(screen.getByTestId("run-status").dataset.state).toBe("running");
    send({ type: "event", event: { type: "text", delta: "lo" } });
    send({ type: "event", event: { type: "usage", usage: { prompt_tokens: 4, completion_tokens: 2 }, max_tokens: 256 } });
    send({
      type: "event",
      event: { type: "finished", model_id: "gemma3:270m", finish_reason: "stop", latency_ms: 120, time_to_first_token_ms: 40, prompt_truncated: false },
    });
    await waitFor(() => expect(screen.getByTestId("run-output").textContent).toBe("Hello"));
    expect(screen.getByTestId("run-model").textContent).toBe("oll/gemma3:270m");
    expect(screen.getByTestId("run-rule").textContent).toContain("primary");
    expect(screen.getByTestId("run-tokens").textContent).toContain("2 / 256");
    expect(screen.getByTestId("run-latency").textContent).toContain("120 ms");
    expect(screen.getByTestId("run-status").dataset.state).toBe("done");
  });

  it("Cancel calls cancel_run with the run's id and shows the run as cancelled", async () => {
    render(Run);
    await fireEvent.input(await screen.findByTestId("run-prompt"), { target: { value: "Long story" } });
    await fireEvent.click(screen.getByTestId("run-start"));
    await waitFor(() => expect(channel).not.toBeNull());
    channel!.onmessage({ type: "event", event: { type: "text", delta: "Once" } });
    await fireEvent.click(await screen.findByTestId("run-cancel"));
    expect(invoke).toHaveBeenCalledWith("cancel_run", { runId: "run-1" });
    expect(await screen.findByTestId("run-cancelled")).toBeTruthy();
    expect(screen.queryByTestId("run-cancel")).toBeNull();
  });

  it("a cloud run opens the modal; Approve resumes the run streamed, Deny stops with nothing sent", async () => {
    let resumed: Channel | null = null;
    const base = invoke.getMockImplementation()!;
    invoke.mockImplementation(async (cmd: string, args: Record<string, unknown>) => {
      if (cmd === "decide_escalation") return { consent_receipt_id: "cr-1" };
      if (cmd === "resume_run") {
        resumed = args.channel as Channel;
        return { run_id: "run-2", job_id: "job-1" };
      }
      return base(cmd, args);
    });
    const escalation = {
      escalation_id: "pp-1", status: "pending",
      plan: { schema_version: "hsk.projection_plan@0.4", projection_plan_id: "pp-1", include_artifact_refs: [], redactions_applied: [],
        max_bytes: 65536, payload_sha256: "ab".repeat(32), created_at: "2026-11-28T00:00:00Z" },
      binding: { provider_id: "cloud", model_id: "cloud/gpt-test", job_id: "job-1", profile_id: "wp-1",
        trace_id: "t", automation_level: "FULL_HUMAN", local_only: false,
        destination: { provider_id: "cloud", origin: "https://api.cloud.example:443", tier: "cloud", revision: 1 } },
      preview: "Check", payload_bytes: 5, job_escalations_used: 0, job_escalations_cap: null,
      remaining_escalations: null, requires_person: true, blocked_reason: null,
    } as const;
    render(Run);
    for (const approve of [true, false]) {
      channel = null;
      await fireEvent.input(await screen.findByTestId("run-prompt"), { target: { value: "Check" } });
      await fireEvent.click(screen.getByTestId("run-start"));
      await waitFor(() => expect(channel).not.toBeNull());
      channel!.onmessage({ type: "event", event: { type: "needs_consent", escalation: structuredClone(escalation) as never } });
      expect(await screen.findByTestId("consent-modal")).toBeTruthy();
      expect(screen.getByTestId("run-status").dataset.state).toBe("waiting_consent");
      await fireEvent.click(screen.getByTestId(approve ? "consent-approve" : "consent-deny"));
      expect(invoke).toHaveBeenCalledWith("decide_escalation", { escalationId: "pp-1", approve, surface: "modal" });
      await waitFor(() => expect(screen.queryByTestId("consent-modal")).toBeNull());
      if (approve) {
        await waitFor(() => expect(resumed).not.toBeNull());
        expect(invoke).toHaveBeenCalledWith("resume_run", expect.objectContaining({ jobId: "job-1" }));
        resumed!.onmessage({ type: "event", event: { type: "text", delta: "From the cloud" } });
        await waitFor(() => expect(screen.getByTestId("run-output").textContent).toBe("From the cloud"));
        resumed!.onmessage({
          type: "event",
          event: { type: "finished", model_id: "gpt-test", finish_reason: "stop", latency_ms: 9, time_to_first_token_ms: 3, prompt_truncated: false },
        });
        await waitFor(() => expect(screen.getByTestId("run-status").dataset.state).toBe("done"));
      } else {
        expect((await screen.findByTestId("run-denied")).textContent).toContain("nothing was sent");
        expect(invoke.mock.calls.filter(([c]) => c === "resume_run")).toHaveLength(1);
      }
    }
  });

  it("a LOCKED denial opens the block without an Approve button", async () => {
    render(Run);
    await fireEvent.input(await screen.findByTestId("run-prompt"), { target: { value: "Check" } });
    await fireEvent.click(screen.getByTestId("run-start"));
    await waitFor(() => expect(channel).not.toBeNull());
    channel!.onmessage({
      type: "failed",
      error: { code: "escalation_denied", message: "cloud escalation denied (locked)", field: null, field_errors: [] },
      deny_reason: "locked",
    });
    expect(await screen.findByTestId("consent-locked")).toBeTruthy();
    expect(screen.queryByTestId("consent-approve")).toBeNull();
    expect(screen.getByTestId("run-blocked")).toBeTruthy();
  });

  const ESCALATION = {
    escalation_id: "pp-1", status: "pending",
    plan: { schema_version: "hsk.projection_plan@0.4", projection_plan_id: "pp-1", include_artifact_refs: [], redactions_applied: [],
      max_bytes: 65536, payload_sha256: "ab".repeat(32), created_at: "2026-11-28T00:00:00Z" },
    binding: { provider_id: "cloud", model_id: "cloud/gpt-test", job_id: "job-1", profile_id: "wp-1",
      trace_id: "t", automation_level: "FULL_HUMAN", local_only: false,
        destination: { provider_id: "cloud", origin: "https://api.cloud.example:443", tier: "cloud", revision: 1 } },
    preview: "Check", payload_bytes: 5, job_escalations_used: 0, job_escalations_cap: null,
    remaining_escalations: null, requires_person: true, blocked_reason: null,
  } as const;
  const err = (code: string, message: string) => ({ code, message, field: null, field_errors: [] });

  async function startRun(prompt = "Check") {
    await fireEvent.input(await screen.findByTestId("run-prompt"), { target: { value: prompt } });
    await fireEvent.click(screen.getByTestId("run-start"));
  }

  it("LOCKED switched on between approval and resume: the block only closes, and stays closed", async () => {
    let resumed: Channel | null = null;
    const base = invoke.getMockImplementation()!;
    invoke.mockImplementation(async (cmd: string, args: Record<string, unknown>) => {
      if (cmd === "decide_escalation") {
        if (args.approve) return { consent_receipt_id: "cr-1" };
        throw err("already_decided", "escalation pp-1 was already decided");
      }
      if (cmd === "resume_run") {
        resumed = args.channel as Channel;
        return { run_id: "run-2", job_id: "job-1" };
      }
      return base(cmd, args);
    });
    render(Run);
    await startRun();
    await waitFor(() => expect(channel).not.toBeNull());
    channel!.onmessage({ type: "event", event: { type: "needs_consent", escalation: structuredClone(ESCALATION) as never } });
    await fireEvent.click(await screen.findByTestId("consent-approve"));
    await waitFor(() => expect(resumed).not.toBeNull());
    // Meanwhile the workspace went LOCKED: the core refuses the resume.
    resumed!.onmessage({ type: "failed", error: err("escalation_denied", "cloud escalation denied (locked)"), deny_reason: "locked" });
    expect(await screen.findByTestId("consent-locked")).toBeTruthy();
    expect(screen.queryByTestId("consent-approve")).toBeNull();
    expect(screen.queryByTestId("consent-deny")).toBeNull();
    await fireEvent.click(screen.getByTestId("consent-close"));
    await waitFor(() => expect(screen.queryByTestId("consent-modal")).toBeNull());
    expect(screen.getByTestId("run-status").dataset.state).toBe("blocked");
    expect(invoke.mock.calls.filter(([c]) => c === "decide_escalation")).toHaveLength(1);
  });

  it("a run goes on after leaving the view: coming back shows its output and Cancel still works", async () => {
    const first = render(Run);
    await startRun("Long story");
    await waitFor(() => expect(channel).not.toBeNull());
    channel!.onmessage({ type: "event", event: { type: "text", delta: "Once" } });
    await waitFor(() => expect(screen.getByTestId("run-output").textContent).toBe("Once"));
    first.unmount();
    // Away from the view the run keeps streaming, and nothing cancelled it.
    channel!.onmessage({ type: "event", event: { type: "text", delta: " upon" } });
    expect(invoke.mock.calls.filter(([c]) => c === "cancel_run")).toHaveLength(0);
    render(Run);
    await waitFor(() => expect(screen.getByTestId("run-output").textContent).toBe("Once upon"));
    expect(screen.getByTestId("run-status").dataset.state).toBe("running");
    await fireEvent.click(await screen.findByTestId("run-cancel"));
    expect(invoke).toHaveBeenCalledWith("cancel_run", { runId: "run-1" });
    expect(await screen.findByTestId("run-cancelled")).toBeTruthy();
  });

  it("a pending escalation is still there after leaving and coming back", async () => {
    const first = render(Run);
    await startRun();
    await waitFor(() => expect(channel).not.toBeNull());
    first.unmount();
    channel!.onmessage({ type: "event", event: { type: "needs_consent", escalation: structuredClone(ESCALATION) as never } });
    render(Run);
    expect(await screen.findByTestId("consent-modal")).toBeTruthy();
    expect((await screen.findByTestId("run-status")).dataset.state).toBe("waiting_consent");
  });

  it("after Cancel a run's late messages are ignored", async () => {
    invoke.mockImplementation(async (cmd: string, args: Record<string, unknown>) => {
      if (cmd === "run_choices") return CHOICES;
      if (cmd === "start_run") {
        channel = args.channel as Channel;
        return { run_id: "run-1", job_id: "job-1" };
      }
      if (cmd === "cancel_run") return true; // The cancelled message comes later (or never).
      throw err("database", `unexpected ${cmd}`);
    });
    render(Run);
    await startRun("Long story");
    await waitFor(() => expect(channel).not.toBeNull());
    channel!.onmessage({ type: "event", event: { type: "text", delta: "Once" } });
    await fireEvent.click(await screen.findByTestId("run-cancel"));
    expect(await screen.findByTestId("run-cancelled")).toBeTruthy();
    channel!.onmessage({ type: "event", event: { type: "text", delta: " more" } });
    channel!.onmessage({
      type: "event",
      event: { type: "finished", model_id: "m", finish_reason: "stop", latency_ms: 9, time_to_first_token_ms: 3, prompt_truncated: false },
    });
    channel!.onmessage({ type: "failed", error: err("cancelled", "cancelled"), deny_reason: null });
    await new Promise((r) => setTimeout(r, 10));
    expect(screen.getByTestId("run-output").textContent).toBe("Once");
    expect(screen.getByTestId("run-status").dataset.state).toBe("cancelled");
    expect(screen.getByTestId("run-latency").textContent).not.toContain("9 ms");
  });

  it("an older run's messages are ignored once a new run started", async () => {
    const channels: Channel[] = [];
    invoke.mockImplementation(async (cmd: string, args: Record<string, unknown>) => {
      if (cmd === "run_choices") return CHOICES;
      if (cmd === "start_run") {
        channels.push(args.channel as Channel);
        return { run_id: `run-${channels.length}`, job_id: `job-${channels.length}` };
      }
      if (cmd === "cancel_run") return true;
      throw err("database", `unexpected ${cmd}`);
    });
    render(Run);
    await startRun("First");
    await waitFor(() => expect(channels).toHaveLength(1));
    await fireEvent.click(await screen.findByTestId("run-cancel"));
    await startRun("Second");
    await waitFor(() => expect(channels).toHaveLength(2));
    channels[0].onmessage({ type: "event", event: { type: "text", delta: "old" } });
    channels[0].onmessage({ type: "failed", error: err("unreachable", "old run failed"), deny_reason: null });
    channels[1].onmessage({ type: "event", event: { type: "text", delta: "new" } });
    await waitFor(() => expect(screen.getByTestId("run-output").textContent).toBe("new"));
    expect(screen.getByTestId("run-status").dataset.state).toBe("running");
    expect(screen.queryByTestId("run-error")).toBeNull();
    await fireEvent.click(screen.getByTestId("run-cancel"));
    expect(invoke).toHaveBeenLastCalledWith("cancel_run", { runId: "run-2" });
  });

  it("Cancel pressed before start_run returned is sent as soon as the run id arrives", async () => {
    let started: (r: { run_id: string; job_id: string }) => void = () => {};
    invoke.mockImplementation(async (cmd: string, args: Record<string, unknown>) => {
      if (cmd === "run_choices") return CHOICES;
      if (cmd === "start_run") {
        channel = args.channel as Channel;
        return new Promise((resolve) => (started = resolve));
      }
      if (cmd === "cancel_run") return true;
      throw err("database", `unexpected ${cmd}`);
    });
    render(Run);
    await startRun("Long story");
    await waitFor(() => expect(channel).not.toBeNull());
    await fireEvent.click(await screen.findByTestId("run-cancel"));
    expect(await screen.findByTestId("run-cancelled")).toBeTruthy();
    expect(invoke.mock.calls.filter(([c]) => c === "cancel_run")).toHaveLength(0);
    channel!.onmessage({ type: "event", event: { type: "text", delta: "ignored" } });
    started({ run_id: "run-1", job_id: "job-1" });
    await waitFor(() => expect(invoke).toHaveBeenCalledWith("cancel_run", { runId: "run-1" }));
    expect(screen.getByTestId("run-output").textContent).toBe("");
    expect(screen.getByTestId("run-status").dataset.state).toBe("cancelled");
  });
});
