import { describe, expect, it } from "vitest";
import { json, problem } from "../../../../functions/commons/http/responses";

describe("json and problem", () => {
  it("answers JSON, indented, newline-terminated, never cached", () => {
    expect(json(201, { runId: "run-1" })).toEqual({
      statusCode: 201,
      headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
      body: '{\n  "runId": "run-1"\n}\n',
    });
  });

  it("answers an error with its message, and the problems only when there are any", () => {
    expect(JSON.parse(problem(404, "no such run").body)).toEqual({ message: "no such run" });
    expect(JSON.parse(problem(400, "the request is not valid", ["reason: is required"]).body)).toEqual({
      message: "the request is not valid",
      problems: ["reason: is required"],
    });
  });
});
