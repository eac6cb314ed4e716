// What the editor shows about a model id: the core's answer, never a rule of its own.
import type { CatalogProvider, ModelTierView } from "../../lib/bindings";

/** A label and a CSS class for the core's verdict on a model id (`null`: nothing to show). */
export function tierBadge(view: ModelTierView | null): { label: string; tone: string; title: string } | null {
  if (!view) return null;
  switch (view.status) {
    case "empty":
      return null;
    case "local":
      return { label: "local", tone: "local", title: "runs on a local-tier provider" };
    case "cloud":
      return { label: "cloud", tone: "cloud", title: "every call needs a projection plan and your consent" };
    case "unknown_provider":
      return { label: "unknown provider", tone: "bad", title: `no provider \`${view.provider_id}\` is registered` };
    case "malformed":
      return { label: "not usable", tone: "bad", title: view.message };
  }
}

/** The first model a local provider lists (the core computed each model's tier), to prefill a new profile. */
export function firstLocalModel(catalog: CatalogProvider[]): string {
  for (const p of catalog) {
    const m = p.models.find((m) => m.tier === "local");
    if (m) return m.model_id;
  }
  return "";
}
