// The operator console: the Flight Recorder's events (pages, one event, live feed), the
// timeline, chain verification and export. Filters are plain form values; the core validates
// them (an invalid one rejects with `field` set to the filter's name).
import { Channel } from "@tauri-apps/api/core";
import type {
  ConsoleExport,
  ConsoleFilter,
  ConsolePage,
  ConsoleTimeline,
  EventType,
  LiveUpdate,
  StoredEvent,
  VerifyReport,
} from "../bindings";
import { call } from "./core";

/** Every Flight Recorder event id, for the type filter. */
export const EVENT_TYPES: EventType[] = [
  "FR-EVT-LLM-INFERENCE",
  "FR-EVT-PROFILE-001",
  "FR-EVT-PROFILE-002",
  "FR-EVT-PROFILE-003",
  "FR-EVT-CLOUD-001",
  "FR-EVT-CLOUD-002",
  "FR-EVT-CLOUD-003",
  "FR-EVT-CLOUD-004",
  "FR-EVT-MODEL-001",
  "FR-EVT-MODEL-002",
  "FR-EVT-MODEL-003",
  "FR-EVT-MODEL-004",
  "FR-EVT-MODEL-005",
];

/** The filter form's values: blank means any. `range` is a preset or "custom" (from/until). */
export type FilterForm = {
  eventType: string;
  traceId: string;
  jobId: string;
  providerId: string;
  range: "all" | "15m" | "1h" | "24h" | "custom";
  /** `<input type="datetime-local">` values, in local time. */
  from: string;
  until: string;
};

export const emptyForm = (): FilterForm => ({
  eventType: "",
  traceId: "",
  jobId: "",
  providerId: "",
  range: "all",
  from: "",
  until: "",
});

const PRESET_MS = { "15m": 15 * 60_000, "1h": 60 * 60_000, "24h": 24 * 60 * 60_000 } as const;

function blankToNull(v: string): string | null {
  const t = v.trim();
  return t === "" ? null : t;
}

function localToIso(v: string): string | null {
  const t = v.trim();
  if (t === "") return null;
  const d = new Date(t);
  // An unparsable value goes to the core as typed, which names the field in its error.
  return Number.isNaN(d.getTime()) ? t : d.toISOString();
}

/** The query the core gets for a filter form, at time `now`. */
export function toFilter(form: FilterForm, now: Date = new Date()): ConsoleFilter {
  let from: string | null = null;
  let until: string | null = null;
  if (form.range === "custom") {
    from = localToIso(form.from);
    until = localToIso(form.until);
  } else if (form.range !== "all") {
    from = new Date(now.getTime() - PRESET_MS[form.range]).toISOString();
  }
  return {
    event_type: blankToNull(form.eventType),
    trace_id: blankToNull(form.traceId),
    job_id: blankToNull(form.jobId),
    provider_id: blankToNull(form.providerId),
    from,
    until,
  };
}

/** A running live feed; `stop()` ends it. */
export type Follow = { stop: () => Promise<void> };

export const consoleApi = {
  events: (filter: ConsoleFilter, beforeSeq: number | null = null, limit = 100) =>
    call<ConsolePage>("console_events", { filter, beforeSeq, limit }),
  event: (seq: number) => call<StoredEvent | null>("console_event", { seq }),
  timeline: (filter: ConsoleFilter) => call<ConsoleTimeline>("console_timeline", { filter }),
  verify: () => call<VerifyReport>("console_verify"),
  export: (filter: ConsoleFilter) => call<ConsoleExport>("console_export", { filter }),
  /** Sends every new event passing `filter` after `afterSeq` to `onUpdate` until stopped. */
  follow: async (
    filter: ConsoleFilter,
    afterSeq: number | null,
    onUpdate: (update: LiveUpdate) => void,
  ): Promise<Follow> => {
    const channel = new Channel<LiveUpdate>();
    channel.onmessage = onUpdate;
    await call<null>("console_follow", { filter, afterSeq, channel });
    return {
      stop: async () => {
        channel.onmessage = () => {};
        await call<boolean>("console_unfollow", { channelId: channel.id });
      },
    };
  },
};
