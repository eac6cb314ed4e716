// What the editor knows about a model id from the registry catalog: its tier, or why it has none.
import type { CatalogProvider, ProviderTier } from "../../lib/bindings";

export function tierOf(catalog: CatalogProvider[], modelId: string): ProviderTier | "unknown" | "malformed" | null {
  const id = modelId.trim();
  if (!id) return null;
  for (const p of catalog) {
    const m = p.models.find((m) => m.model_id === id);
    if (m) return m.tier;
  }
  const slash = id.indexOf("/");
  if (slash <= 0 || slash === id.length - 1) return "malformed";
  const provider = catalog.find((p) => p.provider_id === id.slice(0, slash));
  if (!provider) return "unknown";
  const tag = id.slice(id.lastIndexOf(":") + 1).toLowerCase();
  if (id.includes(":") && (tag === "cloud" || tag.endsWith("-cloud"))) return "cloud";
  return provider.tier;
}

/** The first model a local provider lists, to prefill a new profile. */
export function firstLocalModel(catalog: CatalogProvider[]): string {
  for (const p of catalog) {
    const m = p.models.find((m) => m.tier === "local");
    if (m) return m.model_id;
  }
  return "";
}
