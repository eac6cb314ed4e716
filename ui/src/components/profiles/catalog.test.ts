import { describe, expect, it } from "vitest";
import { firstLocalModel, tierOf } from "./catalog";
import type { CatalogProvider } from "../../lib/bindings";

const catalog: CatalogProvider[] = [
  { provider_id: "open", display_name: "OpenAI", kind: "openai_compat", tier: "cloud", default_model_id: null, models: [], models_error: "unreachable" },
  {
    provider_id: "oll", display_name: "Ollama", kind: "ollama", tier: "local", default_model_id: null, models_error: null,
    models: [{ model_id: "oll/gpt-oss:120b-cloud", name: "gpt-oss:120b-cloud", tier: "cloud" }, { model_id: "oll/gemma3:270m", name: "gemma3:270m", tier: "local" }],
  },
];

describe("model tiers in the pickers", () => {
  it("tells local, cloud, unknown providers and malformed ids apart", () => {
    expect(tierOf(catalog, "oll/gemma3:270m")).toBe("local");
    expect(tierOf(catalog, "oll/gpt-oss:120b-cloud")).toBe("cloud");
    expect(tierOf(catalog, "oll/kimi:cloud")).toBe("cloud");
    expect(tierOf(catalog, "open/gpt-4o")).toBe("cloud");
    expect(tierOf(catalog, "ghost/x")).toBe("unknown");
    expect(tierOf(catalog, "gemma3:270m")).toBe("malformed");
    expect(tierOf(catalog, "  ")).toBeNull();
  });

  it("prefills with the first local model, skipping cloud-tagged ones", () => {
    expect(firstLocalModel(catalog)).toBe("oll/gemma3:270m");
    expect(firstLocalModel([])).toBe("");
  });
});
