import { describe, expect, it } from "vitest";
import { toUiError } from "./core";

describe("toUiError", () => {
  it("keeps a typed command error", () => {
    const error = { code: "egress_denied", message: "no", field: "base_url", field_errors: [] };
    expect(toUiError(error)).toEqual(error);
  });
  it("fills in what an older error shape lacks", () => {
    expect(toUiError({ code: "database", message: "locked" })).toEqual({
      code: "database",
      message: "locked",
      field: null,
      field_errors: [],
    });
  });
  it("wraps anything else as an ipc error", () => {
    expect(toUiError(new Error("boom"))).toMatchObject({ code: "ipc", message: "boom" });
    expect(toUiError("plain")).toMatchObject({ code: "ipc", message: "plain" });
    expect(toUiError({ code: 3, message: "x" })).toMatchObject({ code: "ipc", message: "[object Object]" });
  });
});
