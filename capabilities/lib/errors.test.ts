import { describe, expect, it } from "@jest/globals";
import { errText, httpStatus } from "./errors";

describe("errText", () => {
  it("reads an Error", () => expect(errText(new Error("boom"))).toBe("boom"));
  it("reads a kubernetes-fluent-client response", () => {
    const err = {
      status: 409,
      statusText: "Conflict",
      data: { message: "the object has been modified" },
    };
    expect(errText(err)).toBe("HTTP 409 Conflict: the object has been modified");
    expect(httpStatus(err)).toBe(409);
  });
  it("reads anything else", () => expect(errText("plain")).toBe("plain"));
});
