import { describe, expect, it } from "vitest";
import { UnusableSnapshotError } from "../../../shared/engine/snapshot-header";
import { prepareStep, type StepDeps, unaccountedRows } from "../../../shared/pipeline/run-steps";
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
  const window = { serviceCode: "IMADOKO", start: "2011-12-20T23:30:00+09:00", end: "2011-12-22T14:00:00+09:00" };
  const scoped = incidentDoc({
    suspensions: [window, { ...window, where: { plan: ["voice-only"] } }] as never,
    goodwill: { amount: 200, currency: "JPY", scope: "active", where: { victim: ["yes"] } } as never,
  });
  const header =
    "subscription_id,subscriber_id,service_code,monthly_fee,currency,active_from,active_to,time_zone,billing_day";
  const row = "C-1,S-1,IMADOKO,210,JPY,2011-01-01,,,";
  // The survey may read the snapshot and ask for earlier runs; nothing may be taken or written for a refused one.
  const depsWith = (csv: string): StepDeps => {
    const bytes = new TextEncoder().encode(csv);
    const refuse = (what: string) => () => {
      throw new Error(`prepare used ${what}`);
    };
    return {
      store: new Proxy({ listRuns: async () => [] } as never, {
        get: (target, name) => (name === "listRuns" ? target[name] : refuse(`store.${String(name)}`)),
      }),
      snapshot: {
        name: "subs.csv",
        async *stream() {
          yield bytes;
        },
        range: refuse("snapshot.range") as never,
      },
      files: new Proxy({} as StepDeps["files"], { get: (_t, name) => refuse(`files.${String(name)}`) }),
    };
  };

  it("refuses a snapshot without a column a where names, naming the path and the column, before anything", async () => {
    const error = await prepareStep(input(scoped), depsWith(`${header},plan\n${row},voice-only\n`)).catch((e) => e);
    expect(error).toBeInstanceOf(UnusableSnapshotError);
    expect((error as Error).message).toBe('subs.csv: line 1: goodwill.where.victim: the header has no column "victim"');
  });

  it("refuses a header that names a where's column twice, before anything", async () => {
    const csv = `${header},plan,victim,plan\n${row},voice-only,yes,x\n`;
    await expect(prepareStep(input(scoped), depsWith(csv))).rejects.toThrow(
      'subs.csv: line 1: suspensions[1].where.plan: the column "plan" appears more than once in the header',
    );
  });
});
