// The app's views, in the order the navigation shows them.
export type ViewId = "providers" | "profiles" | "run" | "console" | "settings";

export interface ViewEntry {
  id: ViewId;
  label: string;
}

export const VIEWS: readonly ViewEntry[] = [
  { id: "providers", label: "Providers" },
  { id: "profiles", label: "Work Profiles" },
  { id: "run", label: "Run" },
  { id: "console", label: "Operator Console" },
  { id: "settings", label: "Settings" },
];

export function isViewId(value: string): value is ViewId {
  return VIEWS.some((v) => v.id === value);
}
