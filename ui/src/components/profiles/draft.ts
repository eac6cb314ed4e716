// The editor's form model of a Work Profile and its conversion to and from the spec JSON
// (hsk.work_profile@0.5): optional fields are written absent when blank, override rules are rows.
import type { AutomationLevel, ModelAssignment, PartialModelAssignments, WorkProfile } from "../../lib/bindings";
import type { UiError } from "../../lib/api/core";

/** A runtime role, as the JSON keys name it. */
export type Role = keyof PartialModelAssignments;

export const ROLES: readonly Role[] = ["frontend", "orchestrator", "worker", "validator"];
export const AUTOMATION_LEVELS: readonly AutomationLevel[] = ["FULL_HUMAN", "HYBRID", "AUTONOMOUS"];
export const SCHEMA_VERSION = "hsk.work_profile@0.5";

export interface AssignmentForm {
  primary: string;
  fallback: string;
  local_only: boolean;
  /** When true, `allowed` is written as the allowed_models whitelist. */
  restrict: boolean;
  allowed: string[];
}

export interface RuleRow {
  /** Stable row id for keyed lists (not saved). */
  row: number;
  key: string;
  /** Which roles the rule overrides; only those are written. */
  on: Record<Role, boolean>;
  roles: Record<Role, AssignmentForm>;
}

export interface Draft {
  profile_id: string;
  name: string;
  description: string;
  assignments: Record<Role, AssignmentForm>;
  automation_level: AutomationLevel;
  allow_cloud_escalation: boolean;
  /** Blank for no cap. */
  max_escalations: string;
  filetype_rules: RuleRow[];
  task_type_rules: RuleRow[];
}

export type RuleKind = "filetype_rules" | "task_type_rules";

let nextRow = 1;
export function newRow(key = "", roles: Partial<Record<Role, AssignmentForm>> = {}, defaultModel = ""): RuleRow {
  const on = { frontend: false, orchestrator: false, worker: false, validator: false };
  const filled = {} as Record<Role, AssignmentForm>;
  for (const role of ROLES) {
    const a = roles[role];
    on[role] = a !== undefined;
    filled[role] = a ?? newAssignment(defaultModel);
  }
  return { row: nextRow++, key, on, roles: filled };
}

export function newAssignment(model = ""): AssignmentForm {
  return { primary: model, fallback: "", local_only: true, restrict: false, allowed: [] };
}

export function emptyDraft(defaultModel = ""): Draft {
  return {
    profile_id: "",
    name: "",
    description: "",
    assignments: {
      frontend: newAssignment(defaultModel),
      orchestrator: newAssignment(defaultModel),
      worker: newAssignment(defaultModel),
      validator: newAssignment(defaultModel),
    },
    automation_level: "HYBRID",
    allow_cloud_escalation: false,
    max_escalations: "",
    filetype_rules: [],
    task_type_rules: [],
  };
}

function assignmentForm(a: ModelAssignment): AssignmentForm {
  return {
    primary: a.primary_model_id,
    fallback: a.fallback_model_id ?? "",
    local_only: a.local_only,
    restrict: a.allowed_models !== undefined,
    allowed: [...(a.allowed_models ?? [])],
  };
}

function rows(rules: { [key in string]?: PartialModelAssignments } | undefined): RuleRow[] {
  return Object.entries(rules ?? {}).map(([key, rule]) => {
    const roles: Partial<Record<Role, AssignmentForm>> = {};
    for (const role of ROLES) {
      const a = rule?.[role];
      if (a) roles[role] = assignmentForm(a);
    }
    return newRow(key, roles);
  });
}

export function draftFromProfile(p: WorkProfile): Draft {
  return {
    profile_id: p.profile_id,
    name: p.name,
    description: p.description ?? "",
    assignments: {
      frontend: assignmentForm(p.model_assignments.frontend),
      orchestrator: assignmentForm(p.model_assignments.orchestrator),
      worker: assignmentForm(p.model_assignments.worker),
      validator: assignmentForm(p.model_assignments.validator),
    },
    automation_level: p.governance.automation_level,
    allow_cloud_escalation: p.governance.allow_cloud_escalation,
    max_escalations:
      p.governance.max_cloud_escalations_per_job === undefined ? "" : String(p.governance.max_cloud_escalations_per_job),
    filetype_rules: rows(p.overrides?.filetype_rules),
    task_type_rules: rows(p.overrides?.task_type_rules),
  };
}

function assignmentJson(a: AssignmentForm): ModelAssignment {
  const out: ModelAssignment = { primary_model_id: a.primary.trim(), local_only: a.local_only };
  if (a.fallback.trim()) out.fallback_model_id = a.fallback.trim();
  if (a.restrict) out.allowed_models = a.allowed.map((m) => m.trim()).filter((m) => m.length > 0);
  return out;
}

function rulesJson(list: RuleRow[]): { [key in string]?: PartialModelAssignments } | undefined {
  if (list.length === 0) return undefined;
  const out: { [key in string]?: PartialModelAssignments } = {};
  for (const r of list) {
    const rule: PartialModelAssignments = {};
    for (const role of ROLES) {
      if (r.on[role]) rule[role] = assignmentJson(r.roles[role]);
    }
    out[r.key.trim()] = rule;
  }
  return out;
}

/** Problems the form can tell before asking the core, at the same paths the core uses. */
export function localErrors(d: Draft): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  const max = d.max_escalations.trim();
  if (max !== "" && !/^\d+$/.test(max)) {
    errors["governance.max_cloud_escalations_per_job"] = ["must be a whole number (0 or more), or blank for no cap"];
  }
  for (const kind of ["filetype_rules", "task_type_rules"] as const) {
    const seen = new Set<string>();
    for (const r of d[kind]) {
      const key = r.key.trim();
      if (key && seen.has(key)) {
        errors[`overrides.${kind}.${key}`] = [`\`${key}\` has more than one rule; keep one`];
      }
      seen.add(key);
    }
  }
  return errors;
}

export function profileFromDraft(d: Draft): WorkProfile {
  const p: WorkProfile = {
    schema_version: SCHEMA_VERSION,
    profile_id: d.profile_id.trim(),
    name: d.name,
    model_assignments: {
      frontend: assignmentJson(d.assignments.frontend),
      orchestrator: assignmentJson(d.assignments.orchestrator),
      worker: assignmentJson(d.assignments.worker),
      validator: assignmentJson(d.assignments.validator),
    },
    governance: {
      automation_level: d.automation_level,
      allow_cloud_escalation: d.allow_cloud_escalation,
    },
  };
  if (d.description.trim()) p.description = d.description;
  const max = d.max_escalations.trim();
  if (/^\d+$/.test(max)) p.governance.max_cloud_escalations_per_job = Number(max);
  const filetype = rulesJson(d.filetype_rules);
  const task = rulesJson(d.task_type_rules);
  if (filetype || task) {
    p.overrides = {};
    if (filetype) p.overrides.filetype_rules = filetype;
    if (task) p.overrides.task_type_rules = task;
  }
  return p;
}

export function draftJson(d: Draft): string {
  return JSON.stringify(profileFromDraft(d), null, 2);
}

/** The messages of a failed command by field path ("" for the whole document). */
export function errorsByPath(e: UiError): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of e.field_errors) {
    (out[issue.path] ??= []).push(issue.message);
  }
  if (e.field_errors.length === 0 && e.field) {
    (out[e.field] ??= []).push(e.message);
  }
  return out;
}

/** `wp-` and a slug of the name, for a new profile whose id the user did not type. */
export function suggestId(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48);
  return slug ? `wp-${slug}` : "";
}
