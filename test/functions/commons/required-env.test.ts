import { afterEach, describe, expect, it, vi } from "vitest";
import { requiredEnv } from "../../../functions/commons/required-env";

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("requiredEnv", () => {
  it("gives a setting CDK set", () => {
    vi.stubEnv("RUNS_TABLE", "hiwari-prod-runs");
    expect(requiredEnv("RUNS_TABLE")).toBe("hiwari-prod-runs");
  });

  it("names a missing or empty setting: a broken deployment", () => {
    vi.stubEnv("RUNS_TABLE", "");
    expect(() => requiredEnv("RUNS_TABLE")).toThrow("environment: RUNS_TABLE is not set");
    expect(() => requiredEnv("HIWARI_NEVER_SET")).toThrow("environment: HIWARI_NEVER_SET is not set");
  });
});
