import { describe, expect, it } from "vitest";
import { draftFromProfile, errorsByPath, profileFromDraft, suggestId } from "./draft";
import type { WorkProfile } from "../../lib/bindings";

describe("the editor's form model", () => {
  it("round-trips every field of a profile, optional ones included", () => {
    const profile: WorkProfile = {
      schema_version: "hsk.work_profile@0.5",
      profile_id: "wp-dev",
      name: "Dev",
      description: "Local first",
      model_assignments: {
        frontend: { primary_model_id: "oll/gemma3:270m", local_only: true },
        orchestrator: { primary_model_id: "oll/a", fallback_model_id: "oll/b", local_only: true, allowed_models: ["oll/a", "oll/b"] },
        worker: { primary_model_id: "oll/a", fallback_model_id: "open/gpt-4o-mini", local_only: false },
        validator: { primary_model_id: "oll/a", local_only: false, allowed_models: [] },
      },
      governance: { automation_level: "AUTONOMOUS", allow_cloud_escalation: true, max_cloud_escalations_per_job: 0 },
      overrides: {
        filetype_rules: { rs: { worker: { primary_model_id: "oll/coder", local_only: true } } },
        task_type_rules: { review: {} },
      },
    };
    expect(profileFromDraft(draftFromProfile(profile))).toEqual(profile);
  });

  it("writes blank optional fields as absent", () => {
    const d = draftFromProfile({
      schema_version: "hsk.work_profile@0.5", profile_id: "wp-x", name: "X",
      model_assignments: {
        frontend: { primary_model_id: "oll/a", local_only: true }, orchestrator: { primary_model_id: "oll/a", local_only: true },
        worker: { primary_model_id: "oll/a", local_only: true }, validator: { primary_model_id: "oll/a", local_only: true },
      },
      governance: { automation_level: "HYBRID", allow_cloud_escalation: false },
    });
    d.description = "  ";
    d.assignments.worker.fallback = " ";
    const p = profileFromDraft(d);
    expect("description" in p).toBe(false);
    expect("overrides" in p).toBe(false);
    expect("fallback_model_id" in p.model_assignments.worker).toBe(false);
    expect("max_cloud_escalations_per_job" in p.governance).toBe(false);
  });

  it("maps a command's errors by path, and a single-field error to its field", () => {
    expect(errorsByPath({ code: "invalid", message: "m", field: null, field_errors: [{ path: "name", message: "must not be empty" }, { path: "name", message: "again" }] }))
      .toEqual({ name: ["must not be empty", "again"] });
    expect(errorsByPath({ code: "invalid_id", message: "bad id", field: "profile_id", field_errors: [] })).toEqual({ profile_id: ["bad id"] });
    expect(suggestId("My Dev profile!")).toBe("wp-my-dev-profile");
  });
});
