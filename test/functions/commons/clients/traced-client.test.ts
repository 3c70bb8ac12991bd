import { afterEach, describe, expect, it, vi } from "vitest";
import { tracedClient } from "../../../../functions/commons/clients/traced-client";
import { tracer } from "../../../../functions/commons/powertools/powertools";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("tracedClient", () => {
  it("builds nothing until first asked, then one client, traced once, the same on every call", () => {
    // Prepare
    const capture = vi.spyOn(tracer, "captureAWSv3Client");
    let built = 0;
    const client = tracedClient(() => ({ n: ++built }));

    // Act
    const before = built;
    const first = client();
    const again = client();

    // Assess
    expect(before).toBe(0);
    expect(again).toBe(first);
    expect(first).toEqual({ n: 1 });
    expect(capture).toHaveBeenCalledTimes(1);
    expect(capture).toHaveBeenCalledWith({ n: 1 });
  });
});
