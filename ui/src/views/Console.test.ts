import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { LiveUpdate, PendingEscalation, StoredEvent } from "../lib/bindings";

const invoke = vi.fn();
const channels: { id: number; onmessage: (u: LiveUpdate) => void }[] = [];
vi.mock("@tauri-apps/api/core", () => ({
  invoke: (...args: unknown[]) => invoke(...args),
  Channel: class {
    id = 40 + channels.length;
    onmessage: (u: LiveUpdate) => void = () => {};
    constructor() {
      channels.push(this);
    }
  },
}));

import Console from "./Console.svelte";

function event(seq: number, type = "FR-EVT-PROFILE-002"): StoredEvent {
  return {
    seq,
    event_id: `00000000-0000-7000-8000-00000000000${seq}`,
    event_type: type,
    occurred_at: "2026-11-28T02:00:00Z",
    trace_id: null,
    job_id: `job-${seq}`,
    profile_id: "wp-1",
    provider_id: null,
    model_id: null,
    payload: { job_id: `job-${seq}`, profile_id: "wp-1" },
    prev_hash: "0".repeat(64),
    hash: "1".repeat(64),
  };
}

const pending: PendingEscalation = {
  escalation_id: "plan-1",
  status: "pending",
  plan: {
    schema_version: "hsk.projection_plan@0.1",
    projection_plan_id: "plan-1",
    include_artifact_refs: [],
    redactions_applied: ["email"],
    max_bytes: 4096,
    payload_sha256: "ab".repeat(32),
    created_at: "2026-11-28T02:00:00Z",
  },
  binding: {
    provider_id: "open",
    model_id: "open/gpt-4o-mini",
    job_id: "job-9",
    profile_id: "wp-1",
    trace_id: "t",
    automation_level: "FULL_HUMAN",
    local_only: false,
    destination: { provider_id: "open", origin: "https://api.openai.com:443", tier: "cloud", revision: 1 },
  },
  preview: "Summarise [REDACTED:email]",
  payload_bytes: 27,
  job_escalations_used: 0,
  job_escalations_cap: 1,
  remaining_escalations: 1,
  requires_person: true,
  blocked_reason: null,
};

const timeline = {
  completions: [],
  escalations: [],
  local: { completions: 0, failed: 0, prompt_tokens: 0, completion_tokens: 0 },
  cloud: { completions: 0, failed: 0, prompt_tokens: 0, completion_tokens: 0 },
  cloud_bytes_sent: 0,
  truncated: false,
};

let escalations: PendingEscalation[] = [];
let page: StoredEvent[] = [];

beforeEach(() => {
  channels.length = 0;
  escalations = [];
  page = [event(2), event(1)];
  invoke.mockReset();
  invoke.mockImplementation(async (cmd: string, args: Record<string, unknown>) => {
    switch (cmd) {
      case "console_events":
        return { events: page, head_seq: page.length ? page[0].seq : 0, has_more: false };
      case "console_timeline":
        return timeline;
      case "console_follow":
      case "console_unfollow":
        return null;
      case "escalations":
        return escalations;
      case "decide_escalation":
        escalations = [];
        return { approved: args.approve };
      default:
        throw { code: "internal", message: `unexpected ${cmd}` };
    }
  });
});
afterEach(cleanup);

const rows = () => screen.queryAllByTestId("console-row").map((r) => r.dataset.seq);

describe("Operator console", () => {
  it("shows the empty state on an empty log", async () => {
    page = [];
    render(Console);
    expect(await screen.findByTestId("console-empty")).toBeTruthy();
  });

  it("prepends live events without reloading, and follows from the newest loaded", async () => {
    render(Console);
    await waitFor(() => expect(rows()).toEqual(["2", "1"]));
    await waitFor(() => expect(channels.length).toBe(1));
    expect(invoke).toHaveBeenCalledWith("console_follow", expect.objectContaining({ afterSeq: 2 }));
    channels[0].onmessage({ kind: "event", event: event(3) });
    await waitFor(() => expect(rows()).toEqual(["3", "2", "1"]));
    // The same event twice (broadcast and poll) shows once.
    channels[0].onmessage({ kind: "event", event: event(3) });
    await waitFor(() => expect(rows()).toEqual(["3", "2", "1"]));
    expect(invoke.mock.calls.filter(([c]) => c === "console_events")).toHaveLength(1);
  });

  it("re-queries when the feed says it fell behind", async () => {
    render(Console);
    await waitFor(() => expect(channels.length).toBe(1));
    page = [event(9), event(8)];
    channels[0].onmessage({ kind: "resync", head_seq: 9 });
    await waitFor(() => expect(rows()).toEqual(["9", "8"]));
    expect(invoke).toHaveBeenCalledWith("console_unfollow", { channelId: channels[0].id });
  });

  it("sends the filters to the core and follows with them", async () => {
    render(Console);
    await screen.findByTestId("console-filters");
    await fireEvent.change(screen.getByTestId("console-filter-type"), { target: { value: "FR-EVT-CLOUD-001" } });
    await fireEvent.input(screen.getByTestId("console-filter-job"), { target: { value: "job-7" } });
    await fireEvent.click(screen.getByTestId("console-filter-apply"));
    const expected = expect.objectContaining({ event_type: "FR-EVT-CLOUD-001", job_id: "job-7", trace_id: null });
    await waitFor(() =>
      expect(invoke).toHaveBeenCalledWith("console_events", { filter: expected, beforeSeq: null, limit: 100 }),
    );
    await waitFor(() =>
      expect(invoke).toHaveBeenCalledWith("console_follow", expect.objectContaining({ filter: expected })),
    );
  });

  it("shows an invalid filter's message from the core", async () => {
    render(Console);
    await screen.findByTestId("console-filters");
    const base = invoke.getMockImplementation()!;
    invoke.mockImplementation(async (cmd: string, args: Record<string, any>) => {
      if (cmd === "console_events" && args.filter.trace_id === "x") {
        throw { code: "invalid_id", message: 'invalid trace_id "x": not a UUID', field: "trace_id", field_errors: [] };
      }
      return base(cmd, args);
    });
    await fireEvent.input(screen.getByTestId("console-filter-trace"), { target: { value: "x" } });
    await fireEvent.click(screen.getByTestId("console-filter-apply"));
    const error = await screen.findByTestId("console-filter-error");
    expect(error.textContent).toContain("not a UUID");
    expect(screen.getByTestId("console-filter-trace").getAttribute("aria-invalid")).toBe("true");
  });

  it("opens an event's detail with its payload", async () => {
    render(Console);
    const open = await screen.findAllByTestId("console-row-open");
    await fireEvent.click(open[1]);
    const payload = await screen.findByTestId("console-detail-payload");
    expect(JSON.parse(payload.textContent ?? "")).toEqual({ job_id: "job-1", profile_id: "wp-1" });
  });

  for (const approve of [true, false]) {
    it(`${approve ? "approves" : "denies"} a pending escalation from the console surface`, async () => {
      escalations = [pending];
      render(Console);
      const item = await screen.findByTestId("console-pending-item");
      expect(item.textContent).toContain("open/gpt-4o-mini");
      expect(item.textContent).toContain("ab".repeat(32));
      expect(screen.getByTestId("console-pending-bytes").textContent).toBe("27");
      expect(screen.getByTestId("console-pending-preview").textContent).toBe("Summarise [REDACTED:email]");
      await fireEvent.click(screen.getByTestId(approve ? "console-pending-approve" : "console-pending-deny"));
      await waitFor(() =>
        expect(invoke).toHaveBeenCalledWith("decide_escalation", {
          escalationId: "plan-1",
          approve,
          surface: "console",
        }),
      );
      await waitFor(() => expect(screen.queryByTestId("console-pending-item")).toBeNull());
    });
  }
});
