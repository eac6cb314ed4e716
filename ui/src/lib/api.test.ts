import { describe, expect, it } from "vitest";
import { toUiError } from "./api";

describe("toUiError", () => {
  it("keeps a typed command error", () => {
    expect(toUiError({ code: "database", message: "locked" })).toEqual({ code: "database", message: "locked" });
  });
  it("wraps anything else as an ipc error", () => {
    expect(toUiError(new Error("boom"))).toEqual({ code: "ipc", message: "boom" });
    expect(toUiError("plain")).toEqual({ code: "ipc", message: "plain" });
    expect(toUiError({ code: 3, message: "x" })).toEqual({ code: "ipc", message: "[object Object]" });
  });
});
