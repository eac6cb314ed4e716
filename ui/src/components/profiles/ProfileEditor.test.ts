import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

import ProfileEditor from "./ProfileEditor.svelte";
import Profiles from "../../views/Profiles.svelte";
import { emptyDraft } from "./draft";
import type { CatalogProvider, WorkProfile } from "../../lib/bindings";

const CATALOG: CatalogProvider[] = [
  {
    provider_id: "oll", display_name: "Ollama", kind: "ollama", tier: "local", default_model_id: null, models_error: null,
    models: [{ model_id: "oll/gemma3:270m", name: "gemma3:270m", tier: "local" }],
  },
];

const WORKER_PATH = "model_assignments.worker.primary_model_id";
const invalidWorker = {
  code: "invalid",
  message: "the Work Profile is invalid",
  field: null,
  field_errors: [{ path: WORKER_PATH, message: "`gemma3` is not a model id: expected `<provider_id>/<model name>`" }],
};

/** The drafts the editor asked the core to check, parsed. */
function checked(): WorkProfile[] {
  return invoke.mock.calls.filter(([cmd]) => cmd === "check_profile").map(([, args]) => JSON.parse(args.json));
}

describe("Work Profile editor", () => {
  afterEach(cleanup);
  beforeEach(() => {
    invoke.mockReset();
  });

  it("shows the core's validation messages beside their fields and clears them once fixed", async () => {
    invoke.mockImplementation(async (cmd: string, args: { json: string }) => {
      if (cmd !== "check_profile") throw { code: "database", message: `unexpected ${cmd}` };
      const worker = JSON.parse(args.json).model_assignments.worker.primary_model_id;
      if (!worker.includes("/")) throw invalidWorker;
      return JSON.parse(args.json);
    });
    const draft = emptyDraft("oll/gemma3:270m");
    draft.name = "Dev";
    draft.profile_id = "wp-dev";
    draft.assignments.worker.primary = "gemma3";
    render(ProfileEditor, { initial: draft, catalog: CATALOG, checkDelayMs: 0 });

    const message = await screen.findByTestId(`field-error-${WORKER_PATH}`);
    expect(message.textContent).toContain("is not a model id");
    // Beside the worker's primary picker, not another role's.
    expect(message.closest("[data-testid=role-worker]")).not.toBeNull();
    expect(screen.getByTestId("role-worker-primary").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByTestId("role-frontend-primary").getAttribute("aria-invalid")).toBe("false");

    await fireEvent.input(screen.getByTestId("role-worker-primary"), { target: { value: "oll/gemma3:270m" } });
    await waitFor(() => expect(screen.queryByTestId(`field-error-${WORKER_PATH}`)).toBeNull());
    expect(screen.getByTestId("profile-check-status").textContent).toContain("Looks valid");
    expect(checked().at(-1)?.model_assignments.worker.primary_model_id).toBe("oll/gemma3:270m");
  });

  it("marks a bad escalation cap locally and refuses to save until it is fixed", async () => {
    invoke.mockImplementation(async (cmd: string, args: { json: string }) => {
      if (cmd === "check_profile") return JSON.parse(args.json);
      throw { code: "database", message: `unexpected ${cmd}` };
    });
    const draft = emptyDraft("oll/gemma3:270m");
    draft.name = "Dev";
    draft.allow_cloud_escalation = true;
    render(ProfileEditor, { initial: draft, catalog: CATALOG, checkDelayMs: 0 });
    await fireEvent.input(screen.getByTestId("profile-max-escalations"), { target: { value: "two" } });
    const msg = await screen.findByTestId("field-error-governance.max_cloud_escalations_per_job");
    expect(msg.textContent).toContain("whole number");
    await fireEvent.click(screen.getByTestId("profile-save"));
    expect(invoke.mock.calls.some(([cmd]) => cmd === "create_profile")).toBe(false);
    await fireEvent.input(screen.getByTestId("profile-max-escalations"), { target: { value: "2" } });
    await waitFor(() => expect(screen.queryByTestId("field-error-governance.max_cloud_escalations_per_job")).toBeNull());
    await waitFor(() => expect(checked().at(-1)?.governance.max_cloud_escalations_per_job).toBe(2));
  });

  it("adds and removes override rows, and the draft follows", async () => {
    invoke.mockImplementation(async (_cmd: string, args: { json: string }) => JSON.parse(args.json));
    const draft = emptyDraft("oll/gemma3:270m");
    draft.name = "Dev";
    render(ProfileEditor, { initial: draft, catalog: CATALOG, defaultModel: "oll/gemma3:270m", checkDelayMs: 0 });

    expect(screen.getByTestId("rule-filetypes-none")).toBeTruthy();
    await fireEvent.click(screen.getByTestId("rule-filetype-add"));
    await fireEvent.click(screen.getByTestId("rule-filetype-add"));
    await fireEvent.input(screen.getByTestId("rule-filetype-0-key"), { target: { value: "rs" } });
    await fireEvent.input(screen.getByTestId("rule-filetype-1-key"), { target: { value: "md" } });
    await fireEvent.click(screen.getByTestId("rule-filetype-0-worker-on"));
    expect(screen.getByTestId("rule-filetype-0-worker-primary")).toHaveProperty("value", "oll/gemma3:270m");
    await waitFor(() => {
      const rules = checked().at(-1)?.overrides?.filetype_rules;
      expect(Object.keys(rules ?? {})).toEqual(["rs", "md"]);
      expect(rules?.rs?.worker?.primary_model_id).toBe("oll/gemma3:270m");
    });

    await fireEvent.click(screen.getByTestId("rule-filetype-0-remove"));
    expect(screen.queryByTestId("rule-filetype-1")).toBeNull();
    expect(screen.getByTestId("rule-filetype-0-key")).toHaveProperty("value", "md");
    await waitFor(() => expect(Object.keys(checked().at(-1)?.overrides?.filetype_rules ?? {})).toEqual(["md"]));

    await fireEvent.click(screen.getByTestId("rule-filetype-0-remove"));
    await fireEvent.click(screen.getByTestId("rule-task-add"));
    await fireEvent.input(screen.getByTestId("rule-task-0-key"), { target: { value: "review" } });
    await waitFor(() => {
      const last = checked().at(-1);
      expect(last?.overrides?.filetype_rules).toBeUndefined();
      expect(Object.keys(last?.overrides?.task_type_rules ?? {})).toEqual(["review"]);
    });
  });

  it("shows field errors the core returns on save beside the fields", async () => {
    invoke.mockImplementation(async (cmd: string, args: { json: string }) => {
      if (cmd === "check_profile") return JSON.parse(args.json);
      if (cmd === "create_profile") throw { code: "id_taken", message: "a Work Profile `wp-dev` already exists", field: "profile_id", field_errors: [] };
      throw { code: "database", message: `unexpected ${cmd}` };
    });
    const draft = emptyDraft("oll/gemma3:270m");
    draft.name = "Dev";
    draft.profile_id = "wp-dev";
    render(ProfileEditor, { initial: draft, catalog: CATALOG, checkDelayMs: 0 });
    await fireEvent.click(screen.getByTestId("profile-save"));
    const msg = await screen.findByTestId("field-error-profile_id");
    expect(msg.textContent).toContain("already exists");
  });
});

describe("Work Profiles view", () => {
  afterEach(cleanup);
  beforeEach(() => {
    invoke.mockReset();
  });

  const body = (id: string): WorkProfile => {
    const m = { primary_model_id: "oll/gemma3:270m", local_only: true };
    return {
      schema_version: "hsk.work_profile@0.5", profile_id: id, name: "Dev",
      model_assignments: { frontend: m, orchestrator: m, worker: m, validator: m },
      governance: { automation_level: "HYBRID", allow_cloud_escalation: false },
    };
  };

  it("says an edit of a used profile was saved as a new version and lists its parent", async () => {
    let saved = false;
    invoke.mockImplementation(async (cmd: string, args: Record<string, string>) => {
      switch (cmd) {
        case "profiles": {
          const a = { profile_id: "wp-a", name: "Dev", parent_profile_id: null, child_profile_ids: saved ? ["wp-b"] : [], created_at: "2026-11-28T00:00:00Z", active: !saved, used_by_jobs: ["job-1"] };
          const b = { profile_id: "wp-b", name: "Dev 2", parent_profile_id: "wp-a", child_profile_ids: [], created_at: "2026-11-28T00:01:00Z", active: true, used_by_jobs: [] };
          return saved ? [a, b] : [a];
        }
        case "model_catalog": return CATALOG;
        case "profile": return { profile: body("wp-a"), parent_profile_id: null, created_at: "x", body_sha256: "x", active: true, used_by_jobs: ["job-1"] };
        case "check_profile": return JSON.parse(args.json);
        case "save_profile":
          expect(args.profileId).toBe("wp-a");
          saved = true;
          return { created: { profile_id: "wp-b", parent_profile_id: "wp-a", name: "Dev 2", body_sha256: "x" }, new_version_because_used: true, parent_job_count: 1, activated: true };
        default: throw { code: "database", message: `unexpected ${cmd}` };
      }
    });
    render(Profiles);
    const row = await screen.findByTestId("profile-row-wp-a");
    expect(row.querySelector("[data-testid=profile-row-used]")?.textContent).toContain("used by 1 job");
    await fireEvent.click(row.querySelector("[data-testid=profile-edit]")!);
    expect((await screen.findByTestId("profile-editor-used")).textContent).toMatch(/saving creates a new\s+version/);
    expect(screen.getByTestId("profile-save").textContent).toContain("Save as new version");
    await fireEvent.input(screen.getByTestId("profile-name"), { target: { value: "Dev 2" } });
    await fireEvent.click(screen.getByTestId("profile-save"));

    const notice = await screen.findByTestId("profiles-notice");
    expect(notice.textContent).toContain("new version wp-b");
    expect(notice.textContent).toContain("used by 1 job");
    expect(notice.textContent).toContain("wp-b is now the active profile");
    const child = await screen.findByTestId("profile-row-wp-b");
    expect(child.querySelector("[data-testid=profile-row-parent]")?.textContent).toContain("wp-a");
    expect(screen.getByTestId("profile-row-wp-a").querySelector("[data-testid=profile-row-children]")?.textContent).toContain("wp-b");
  });

  it("shows what to do when there is no profile and no provider", async () => {
    invoke.mockImplementation(async (cmd: string) => {
      if (cmd === "profiles" || cmd === "model_catalog") return [];
      throw { code: "database", message: `unexpected ${cmd}` };
    });
    render(Profiles);
    expect((await screen.findByTestId("profiles-empty")).textContent).toContain("No Work Profiles yet");
    expect((await screen.findByTestId("profiles-empty-no-provider")).textContent).toContain("add a provider");
  });
});
