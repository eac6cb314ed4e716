import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

import App from "./App.svelte";
import { VIEWS } from "./lib/nav";

describe("App shell", () => {
  afterEach(cleanup);
  beforeEach(() => {
    invoke.mockReset();
    invoke.mockImplementation(async (cmd: string) => {
      if (cmd === "app_info") {
        return { version: "9.9.9", data_dir: "/tmp/hsk-data", database_path: "/tmp/hsk-data/handshake.db", schema_version: 1 };
      }
      throw { code: "database", message: `unexpected command ${cmd}` };
    });
  });

  it("starts on Providers and navigates to every view", async () => {
    render(App);
    expect(screen.getByTestId("view").dataset.view).toBe("providers");
    for (const view of VIEWS) {
      await fireEvent.click(screen.getByTestId(`nav-${view.id}`));
      expect(screen.getByTestId("view").dataset.view).toBe(view.id);
      expect(screen.getByTestId(`nav-${view.id}`).getAttribute("aria-current")).toBe("page");
      expect(screen.getByTestId(`${view.id}-title`).textContent).toBe(view.label);
    }
  });

  it("shows version and data directory from the core in Settings", async () => {
    render(App);
    await fireEvent.click(screen.getByTestId("nav-settings"));
    expect(await screen.findByTestId("settings-version")).toHaveProperty("textContent", "9.9.9");
    expect(screen.getByTestId("settings-data-dir").textContent).toBe("/tmp/hsk-data");
    expect(invoke).toHaveBeenCalledWith("app_info", undefined);
  });

  it("shows a startup failure instead of the settings", async () => {
    invoke.mockImplementation(async () => {
      throw { code: "startup_failed", message: "database.db was written by a newer Handshake" };
    });
    render(App);
    await fireEvent.click(screen.getByTestId("nav-settings"));
    const alert = await screen.findByTestId("settings-error");
    expect(alert.textContent).toContain("could not open its data directory");
    expect(alert.textContent).toContain("newer Handshake");
  });
});
