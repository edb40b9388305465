import { describe, expect, it } from "@jest/globals";
import { ApiError, errText, httpStatus, isConflict, isForbidden, isNotFound } from "./errors";

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

describe("ApiError and the checks", () => {
  it.each([
    [
      "ApiError 404",
      new ApiError(404, "NotFound", { message: "pods x not found" }),
      [true, false, false],
    ],
    ["ApiError 409", new ApiError(409, "Conflict", { message: "exists" }), [false, true, false]],
    ["ApiError 403", new ApiError(403, "Forbidden", "no"), [false, false, true]],
    [
      "kubernetes-fluent-client's object",
      { status: 404, statusText: "Not Found", data: {} },
      [true, false, false],
    ],
    ["a plain Error", new Error("ECONNRESET"), [false, false, false]],
    ["nothing", undefined, [false, false, false]],
  ])("%s", (_name, err, [notFound, conflict, forbidden]) => {
    expect([isNotFound(err), isConflict(err), isForbidden(err)]).toEqual([
      notFound,
      conflict,
      forbidden,
    ]);
  });

  it("reads as one line, in the shape kubernetes-fluent-client throws", () => {
    const err = new ApiError(403, "Forbidden", { message: 'nodes "x" is forbidden' });
    expect(errText(err)).toBe('HTTP 403 Forbidden: nodes "x" is forbidden');
    expect(err).toMatchObject({ status: 403, statusText: "Forbidden" });
    expect(err).toBeInstanceOf(Error);
  });
});
