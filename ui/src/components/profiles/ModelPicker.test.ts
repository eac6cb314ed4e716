import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen, waitFor } from "@testing-library/svelte";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

import ModelPicker from "./ModelPicker.svelte";
import type { CatalogProvider } from "../../lib/bindings";

const CATALOG: CatalogProvider[] = [
  {
    provider_id: "oll", display_name: "Ollama", kind: "ollama", tier: "local", default_model_id: null, models_error: null,
    models: [{ model_id: "oll/gemma3:270m", name: "gemma3:270m", tier: "local" }],
  },
];

function picker(value: string) {
  render(ModelPicker, { value, label: "Primary model", path: "p", testid: "pick", catalog: CATALOG, errors: {} });
}

describe("the model picker's tier badge", () => {
  afterEach(cleanup);
  beforeEach(() => {
    invoke.mockReset();
  });

  it("shows a listed model's tier from the catalog without asking", async () => {
    picker("oll/gemma3:270m");
    expect((await screen.findByTestId("pick-tier")).textContent).toBe("local");
    expect(invoke).not.toHaveBeenCalled();
  });

  it("asks the core about a typed id (as the draft will save it) and shows its answer", async () => {
    invoke.mockResolvedValue({ status: "cloud" });
    picker("  oll/X:CLOUD ");
    await waitFor(() => expect(screen.getByTestId("pick-tier").textContent).toBe("cloud"));
    expect(invoke).toHaveBeenCalledWith("model_tier", { modelId: "oll/X:CLOUD" });
  });

  it("shows the core's refusal with its reason", async () => {
    invoke.mockResolvedValue({ status: "malformed", problem: "several_tags", message: "more than one tag" });
    picker("oll/x:cloud:latest");
    await waitFor(() => expect(screen.getByTestId("pick-tier").textContent).toBe("not usable"));
    expect(screen.getByTestId("pick-tier").getAttribute("title")).toBe("more than one tag");
  });

  it("says so when the core cannot be asked, rather than showing nothing", async () => {
    invoke.mockImplementation(async () => {
      throw { code: "database", message: "database is locked" };
    });
    picker("oll/other:7b");
    await waitFor(() => expect(screen.getByTestId("pick-tier").textContent).toBe("tier unknown"));
    expect(screen.getByTestId("pick-tier").getAttribute("title")).toContain("database is locked");
  });
});
