import { describe, expect, it } from "vitest";
import { prepareStep, type StepDeps, unaccountedRows } from "../../../shared/pipeline/run-steps";
import { UnsupportedScopeError } from "../../../shared/pipeline/unsupported-scope-error";
import { ZERO_COUNTS } from "../../../shared/store/refund-store";
import { incidentDoc } from "../../helpers/factories";

describe("unaccountedRows", () => {
  const counts = { ...ZERO_COUNTS, rows: 10, computed: 6, skipped: 3, rejected: 1 };

  it("finds nothing wrong when every surveyed row ended computed, skipped or rejected", () => {
    expect(unaccountedRows(counts, 10)).toBeUndefined();
  });

  it("names a row the batches never judged, and a row judged but never ended", () => {
    expect(unaccountedRows(counts, 11)).toBe("the batches judged 10 rows where the snapshot holds 11");
    expect(unaccountedRows({ ...counts, skipped: 2 }, 10)).toBe("10 rows, yet 6 computed + 2 skipped + 1 rejected = 9");
  });
});

describe("prepareStep and contract v2 scope", () => {
  const input = (incidentDocument: unknown) => ({
    incidentDocument,
    incidentDigest: "0".repeat(64),
    requestId: "r-1",
    requestedBy: "test",
    reason: "test",
    dryRun: false,
    batchSize: 10,
  });
  // Nothing may be read or taken for a refused incident: deps that throw on any use.
  const untouched = new Proxy({} as StepDeps, {
    get: (_t, name) => {
      throw new Error(`prepare used deps.${String(name)}`);
    },
  });
  const window = { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" };

  it('refuses an incident with a where or goodwill scope "active" permanently, naming the fields, before anything', async () => {
    const scoped = incidentDoc({
      suspensions: [window, { ...window, where: { plan: ["voice-only"] } }] as never,
      goodwill: { amount: 200, currency: "JPY", scope: "active", where: { victims: ["yes"] } } as never,
    });
    const error = await prepareStep(input(scoped), untouched).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedScopeError);
    expect((error as Error).name).toBe("UnsupportedScopeError");
    expect((error as Error).message).toBe(
      'suspensions[1].where, goodwill.where, goodwill.scope: the run pipeline does not apply contract v2 scope (where, goodwill scope "active") yet: use hiwari compute',
    );
  });

  it('lets through an incident whose goodwill scope is the default, "refunded", written out', async () => {
    const v1 = incidentDoc({ goodwill: { amount: 200, currency: "JPY", scope: "refunded" } as never });
    await expect(prepareStep(input(v1), untouched)).rejects.toThrow("prepare used deps.store");
  });
});
