import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));

import ProfileTransfer from "./ProfileTransfer.svelte";

describe("profile import and export", () => {
  afterEach(cleanup);
  beforeEach(() => {
    invoke.mockReset();
  });

  it("lists the problems of an invalid import by path, and imports a fixed one", async () => {
    invoke.mockImplementationOnce(async () => {
      throw {
        code: "invalid", message: "the Work Profile is invalid", field: null,
        field_errors: [{ path: "model_assignments.validator", message: "the role `validator` has no model assignment" }],
      };
    });
    invoke.mockImplementationOnce(async () => ({ profile_id: "wp-x", parent_profile_id: null, name: "X", body_sha256: "h" }));
    const onimported = vi.fn();
    render(ProfileTransfer, { onimported, onclose: () => {} });
    const submit = screen.getByTestId("profile-import-submit") as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId("profile-import-json"), { target: { value: '{"profile_id": "wp-x"}' } });
    await fireEvent.click(submit);
    const error = await screen.findByTestId("profile-import-error");
    expect(error.textContent).toContain("model_assignments.validator");
    expect(error.textContent).toContain("has no model assignment");
    expect(onimported).not.toHaveBeenCalled();
    expect(invoke).toHaveBeenCalledWith("create_profile", { json: '{"profile_id": "wp-x"}' });

    await fireEvent.click(submit);
    await waitFor(() => expect(onimported).toHaveBeenCalledWith(expect.objectContaining({ profile_id: "wp-x" })));
  });

  it("shows an exported profile's JSON with a download named after it", () => {
    const json = '{\n  "profile_id": "wp-x"\n}';
    render(ProfileTransfer, { exported: { profile_id: "wp-x", json }, onimported: () => {}, onclose: () => {} });
    expect(screen.getByTestId("profile-export-json")).toHaveProperty("value", json);
    const link = screen.getByTestId("profile-export-download");
    expect(link.getAttribute("download")).toBe("wp-x.json");
    expect(decodeURIComponent(link.getAttribute("href")!.split(",").slice(1).join(","))).toBe(json);
  });
});
