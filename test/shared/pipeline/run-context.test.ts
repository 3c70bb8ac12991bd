import { describe, expect, it } from "vitest";
import { runIdOf, sha256 } from "../../../shared/pipeline/run-context";

describe("sha256", () => {
  it("is the hex SHA-256 of text and of bytes alike", () => {
    // FIPS 180-2's example: SHA-256("abc").
    const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    expect(sha256("abc")).toBe(abc);
    expect(sha256(new TextEncoder().encode("abc"))).toBe(abc);
  });
});

describe("runIdOf", () => {
  it("derives the run id from the incident and the request id: the same request finds the same run", () => {
    // Pinned: a change of derivation would make every retried request start a second run of its incident.
    expect(runIdOf("spmode-2011-12", "req-1")).toBe("run-081a23e5ea21bd36f9b6");
    expect(runIdOf("spmode-2011-12", "req-1")).toBe(runIdOf("spmode-2011-12", "req-1"));
  });

  it("gives another run to another request or another incident, as `run-` and 20 hex digits", () => {
    const ids = [runIdOf("a", "bc"), runIdOf("ab", "c"), runIdOf("a", "bd"), runIdOf("b", "bc")];
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(id).toMatch(/^run-[0-9a-f]{20}$/);
  });
});
