import { describe, expect, it } from "vitest";
import { firstLocalModel, tierBadge } from "./catalog";
import type { CatalogProvider } from "../../lib/bindings";

const catalog: CatalogProvider[] = [
  { provider_id: "open", display_name: "OpenAI", kind: "openai_compat", tier: "cloud", default_model_id: null, models: [], models_error: "unreachable" },
  {
    provider_id: "oll", display_name: "Ollama", kind: "ollama", tier: "local", default_model_id: null, models_error: null,
    models: [{ model_id: "oll/gpt-oss:120b-cloud", name: "gpt-oss:120b-cloud", tier: "cloud" }, { model_id: "oll/gemma3:270m", name: "gemma3:270m", tier: "local" }],
  },
];

describe("model tiers in the pickers", () => {
  it("shows the core's verdict as it is", () => {
    expect(tierBadge({ status: "local" })?.label).toBe("local");
    expect(tierBadge({ status: "cloud" })?.label).toBe("cloud");
    expect(tierBadge({ status: "unknown_provider", provider_id: "ghost" })?.title).toContain("ghost");
    const malformed = tierBadge({ status: "malformed", problem: "several_tags", message: "more than one tag" });
    expect(malformed?.tone).toBe("bad");
    expect(malformed?.title).toBe("more than one tag");
    expect(tierBadge({ status: "empty" })).toBeNull();
    expect(tierBadge(null)).toBeNull();
  });

  it("prefills with the first model the core marked local, skipping cloud-tagged ones", () => {
    expect(firstLocalModel(catalog)).toBe("oll/gemma3:270m");
    expect(firstLocalModel([])).toBe("");
  });
});
