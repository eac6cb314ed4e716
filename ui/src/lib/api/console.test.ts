import { describe, expect, it } from "vitest";
import { emptyForm, toFilter } from "./console";

describe("toFilter", () => {
  const now = new Date("2026-11-28T03:00:00.000Z");

  it("sends blanks as null, so an empty form matches everything", () => {
    expect(toFilter({ ...emptyForm(), jobId: "  " }, now)).toEqual({
      event_type: null,
      trace_id: null,
      job_id: null,
      provider_id: null,
      from: null,
      until: null,
    });
  });

  it("puts every field where the core expects it, trimmed", () => {
    const filter = toFilter(
      {
        ...emptyForm(),
        eventType: "FR-EVT-CLOUD-003",
        traceId: " 01a2202e-9853-70c4-ac48-1e9717cbd974 ",
        jobId: "job-1",
        providerId: "oll",
      },
      now,
    );
    expect(filter).toMatchObject({
      event_type: "FR-EVT-CLOUD-003",
      trace_id: "01a2202e-9853-70c4-ac48-1e9717cbd974",
      job_id: "job-1",
      provider_id: "oll",
    });
  });

  it("turns a preset range into a lower bound before now", () => {
    expect(toFilter({ ...emptyForm(), range: "15m" }, now)).toMatchObject({
      from: "2026-11-28T02:45:00.000Z",
      until: null,
    });
    expect(toFilter({ ...emptyForm(), range: "24h" }, now).from).toBe("2026-11-27T03:00:00.000Z");
  });

  it("sends custom local times as UTC instants, and an unparsable one as typed", () => {
    const filter = toFilter({ ...emptyForm(), range: "custom", from: "2026-11-28T01:30", until: "" }, now);
    expect(filter.from).toBe(new Date("2026-11-28T01:30").toISOString());
    expect(filter.until).toBeNull();
    expect(toFilter({ ...emptyForm(), range: "custom", from: "soon" }, now).from).toBe("soon");
  });

  it("ignores custom times unless the range is custom", () => {
    expect(toFilter({ ...emptyForm(), range: "all", from: "2026-11-28T01:30" }, now).from).toBeNull();
  });
});
