import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CsvRecordReader } from "../../../../shared/csv/csv-record-reader";
import { Utf8ChunkDecoder } from "../../../../shared/csv/utf8-decoder";
import {
  type ByteRange,
  computeRefundsFast,
  HELD_REJECT_BYTES,
  HELD_REJECTS_LIMIT,
  inThisThread,
  type RangeOutput,
  type RangeRunner,
} from "../../../../shared/engine/fast/fast-engine";
import { parseIncident } from "../../../../shared/input/incident";
import { SUBSCRIPTION_COLUMNS } from "../../../../shared/input/subscription-row";
import { toCsvRow, toJsonLine } from "../../../../shared/output/line-format";
import { csvOf, incidentDoc, row, runFast, runReference } from "../../../helpers/factories";
import { incidentArb, iso, snapshotArb } from "../../../helpers/snapshot-arbitraries";

// The fast engine against the reference engine on random snapshots: every rule, day basis, rounding,
// zone and billing day, and rows that are wrong in every way the byte path must hand over to the reference one.

/** How many records the CSV reader finds in a file's bytes, the header included. */
function recordsIn(bytes: Uint8Array): number {
  const reader = new CsvRecordReader();
  const decoder = new Utf8ChunkDecoder();
  return [...reader.push(decoder.decode(bytes)), ...reader.push(decoder.end()), ...reader.end()].length;
}

describe("computeRefundsFast (the fast engine)", () => {
  it("writes exactly the reference engine's lines, rejects and counts on random snapshots, however they are cut", async () => {
    await fc.assert(
      fc.asyncProperty(
        incidentArb,
        snapshotArb,
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        fc.constantFrom("two passes", "one pass", "threaded"),
        fc.integer({ min: 1, max: 400 }),
        async (incident, bytes, chunkBytes, csv, path, rangeBytes) => {
          const reference = await runReference(incident, bytes);
          // Every record after the header is accounted for, once: computed, skipped or rejected.
          const { rows, computed, skipped, rejected } = reference.counts;
          expect(rows).toBe(computed + skipped + rejected);
          expect(rows).toBe(recordsIn(bytes) - 1);
          const format = csv ? toCsvRow : toJsonLine;
          // Single-threaded, in two passes or (to a sink it may rewind) one, or threaded (the second pass in ranges of
          // about rangeBytes, joined in order).
          const fast = await runFast(incident, bytes, {
            chunkBytes,
            format,
            rangeBytes: path === "threaded" ? rangeBytes : undefined,
            rewindable: path === "one pass",
          });
          expect(fast.text).toBe(reference.lines.map(format).join(""));
          expect(fast.rejects).toEqual(reference.rejects);
          expect(fast.counts).toEqual(reference.counts);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("writes any id as the reference engine does: quotes, backslashes, commas, controls, non-ASCII, long", async () => {
    const idArb = fc.oneof(
      // Printable ASCII, which the byte path copies as it is, but for the backslash JSON must escape.
      fc.string({ unit: fc.constantFrom("a", "1", "-", "\\", " ", "~") }),
      fc.string({ unit: fc.constantFrom("a", "1", "\\", '"', ",", "\t", "\r", "\n", "é", "日", "\u007f", " ") }),
      fc.string({ unit: "binary", maxLength: 140 }),
      fc.string({ minLength: 120, maxLength: 140 }),
    );
    const incident = parseIncident(incidentDoc({ goodwill: { amount: 500, currency: "JPY" } }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(idArb, idArb), { maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        async (ids, csv, rewindable) => {
          const rows = ids.map(([id, subscriber]) => row({ subscription_id: id, subscriber_id: subscriber }));
          const text = csvOf(rows);
          const reference = await runReference(incident, text);
          const format = csv ? toCsvRow : toJsonLine;
          const fast = await runFast(incident, text, { format, rewindable });
          expect(fast.text).toBe(reference.lines.map(format).join(""));
          expect(fast.rejects).toEqual(reference.rejects);
          expect(fast.counts).toEqual(reference.counts);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives every plain row of one class its line, computed by hand: 3 days of 31 at 310 JPY is 30 JPY", async () => {
    const incident = parseIncident(incidentDoc());
    const rows = Array.from({ length: 5 }, (_, i) => row({ monthly_fee: "310" }, i + 1));
    const csv = `${SUBSCRIPTION_COLUMNS.join(",")}\n${rows.map((r) => SUBSCRIPTION_COLUMNS.map((c) => r[c]).join(",")).join("\n")}\n`;
    const fast = await runFast(incident, csv);
    // 3 days of December's 31 at 310 JPY: 30 JPY each, by hand.
    expect(fast.text.trim().split("\n")).toHaveLength(5);
    expect(fast.text).toContain(
      '{"subscriptionId":"C-3","subscriberId":"S-3","serviceCode":"IMADOKO","periodStart":"2011-12-01","periodEnd":"2012-01-01","unit":"day","units":3,"basis":31,"amount":30,"currency":"JPY"}\n',
    );
    expect(fast.counts.totals).toEqual([{ serviceCode: "IMADOKO", currency: "JPY", lines: 5, amount: 150n }]);
  });

  it("rejects every occurrence of a duplicate id, and only those, even when a quoted field's second line looks like a row", async () => {
    const incident = parseIncident(incidentDoc());
    const header = SUBSCRIPTION_COLUMNS.join(",");
    const csv = [
      header,
      "C-1,S-1,IMADOKO,210,JPY,2011-01-01,,,",
      // A note-like quoted subscriber id whose second physical line reads like a row of C-1: not a duplicate.
      'C-2,"S-2\nC-1,S-9",IMADOKO,210,JPY,2011-01-01,,,',
      "C-3,S-3,IMADOKO,210,JPY,2011-01-01,,,",
      "C-3,S-4,IMADOKO,210,JPY,2011-01-01,,,",
      "",
    ].join("\n");
    const fast = await runFast(incident, csv);
    const reference = await runReference(incident, csv);
    expect(fast.rejects).toEqual(reference.rejects);
    expect(fast.rejects.map((r) => [r.line, r.subscriptionId, r.field])).toEqual([
      [5, "C-3", "subscription_id"],
      [6, "C-3", "subscription_id"],
    ]);
    expect(fast.counts).toMatchObject({ rows: 4, computed: 2, rejected: 2 });
  });

  describe("to a sink it may rewind (a file): the lines in the pass that looks for duplicates", () => {
    const incident = parseIncident(incidentDoc({ goodwill: { amount: 500, currency: "JPY" } }));
    const rows = (n: number, id = (i: number) => `C-${i}`) =>
      Array.from({ length: n }, (_, i) => row({ subscription_id: id(i), subscriber_id: `S-${i % 7}` }, i));

    it("reads the file once when no id repeats, and writes the two-pass run's lines, rejects and counts", async () => {
      // Three rows the reference judgement rejects (a bad fee, a bad currency, no subscriber): held, then handed on.
      const csv = csvOf([
        ...rows(40),
        row({ subscription_id: "B-1", monthly_fee: "12a" }),
        row({ subscription_id: "B-2", currency: "J" }),
        row({ subscription_id: "B-3", subscriber_id: "" }),
      ]);
      const twoPasses = await runFast(incident, csv);
      const onePass = await runFast(incident, csv, { rewindable: true });
      expect(twoPasses.reads).toBe(3); // the header, the ids, the lines
      expect(onePass.reads).toBe(1);
      expect(onePass.rewinds).toBe(0);
      expect(onePass.text).toBe(twoPasses.text);
      expect(onePass.rejects).toEqual(twoPasses.rejects);
      expect(onePass.rejects.map((r) => r.subscriptionId)).toEqual(["B-1", "B-2", "B-3"]);
      expect(onePass.counts).toEqual(twoPasses.counts);
      expect(onePass.counts).toMatchObject({ rows: 43, computed: 40, rejected: 3, lines: 47, goodwillLines: 7 });
    });

    it("starts the lines again, once, when an id repeats: neither row's lines nor a held reject is written twice", async () => {
      // C-3 twice (rows 4 and 31): both rejected, and their subscriber's goodwill goes to its next row.
      const csv = csvOf([
        ...rows(30),
        row({ subscription_id: "C-3", subscriber_id: "S-3" }, 30),
        row({ monthly_fee: "x" }, 31),
      ]);
      const reference = await runReference(incident, csv);
      const onePass = await runFast(incident, csv, { rewindable: true });
      expect(onePass.rewinds).toBe(1);
      expect(onePass.reads).toBe(4); // lines and ids; the suspects confirmed; the header; the lines again
      expect(onePass.text).toBe(reference.lines.map(toJsonLine).join(""));
      expect(onePass.text).not.toContain('"C-3"');
      expect(onePass.rejects).toEqual(reference.rejects);
      expect(onePass.rejects.map((r) => [r.line, r.subscriptionId, r.field])).toEqual([
        [5, "C-3", "subscription_id"],
        [32, "C-3", "subscription_id"],
        [33, "C-31", "monthly_fee"],
      ]);
      expect(onePass.counts).toEqual(reference.counts);
    });

    it(`stops holding rejects past ${HELD_REJECTS_LIMIT.toLocaleString("en-US")} and reads the ids first, losing none`, async () => {
      const bad = HELD_REJECTS_LIMIT + 5;
      // And C-1 twice at the end, which the two passes find after the stopped one.
      const csv = csvOf([
        ...rows(bad, (i) => `X-${i}`).map((r) => ({ ...r, currency: "J" })),
        ...rows(3),
        row({ subscriber_id: "S-1" }, 1),
      ]);
      const reference = await runReference(incident, csv);
      // Chunks of 4 KiB: the pass sees the limit passed long before the file ends.
      const onePass = await runFast(incident, csv, { rewindable: true, chunkBytes: 4096 });
      expect(onePass.rewinds).toBe(1);
      expect(onePass.reads).toBe(5); // the held pass, stopped; the header; the ids; the suspects; the lines
      expect(onePass.rejects).toHaveLength(bad + 2);
      expect(onePass.rejects).toEqual(reference.rejects);
      expect(onePass.text).toBe(reference.lines.map(toJsonLine).join(""));
      expect(onePass.text).not.toContain('"C-1"');
      expect(onePass.counts).toEqual(reference.counts);
    });

    it(`stops holding rejects past ${HELD_REJECT_BYTES / 2 ** 20} MiB of ids and reasons, however few they are`, async () => {
      // 200 ids of 100,000 characters (too long: rejected, each reject holding its id): 20 MB, in 200 rejects.
      const long = (i: number) => `L${String(i).padStart(4, "0")}${"x".repeat(99_995)}`;
      const csv = csvOf([...rows(200, long), ...rows(3)]);
      const reference = await runReference(incident, csv);
      const onePass = await runFast(incident, csv, { rewindable: true, chunkBytes: 1 << 20 });
      expect(onePass.rewinds).toBe(1);
      expect(onePass.reads).toBe(4); // the held pass, stopped; the header; the ids; the lines
      expect(onePass.rejects).toEqual(reference.rejects);
      expect(onePass.rejects).toHaveLength(200);
      expect(onePass.text).toBe(reference.lines.map(toJsonLine).join(""));
    });

    it("computes in two passes after a write refused in the one pass, and fails only if the lines owed do not fit", async () => {
      // Every id twice: nothing owed but goodwill, yet the one pass writes a line a row before it knows.
      const twice = csvOf([...rows(300), ...rows(300)]);
      const reference = await runReference(incident, twice);
      const owed = reference.lines.map(toJsonLine).join("").length;
      const fits = await runFast(incident, twice, { rewindable: true, writeLimit: owed + 100, chunkBytes: 4096 });
      expect(fits.rewinds).toBe(1);
      expect(fits.text).toBe(reference.lines.map(toJsonLine).join(""));
      expect(fits.rejects).toEqual(reference.rejects);
      expect(fits.counts).toEqual(reference.counts);
      // The same limit, with 300 more lines really owed: the two passes meet it too, and the run fails with its error.
      const more = csvOf([...rows(300), ...rows(300), ...rows(300, (i) => `D-${i}`)]);
      await expect(
        runFast(incident, more, { rewindable: true, writeLimit: owed + 100, chunkBytes: 4096 }),
      ).rejects.toThrow("EFBIG: the sink's limit");
    });
  });

  it("on threads, credits a subscriber once when a plain row and a record read by the reference judgement share a range", async () => {
    // A quoted cell makes a record the reference judgement's; past the file's first quote the rest is one range, so
    // S-3's plain row, its quoted record and its plain row again are one worker's, in that order, and S-4's quoted
    // record comes before its plain rows. Each subscriber gets one goodwill line, at its first row.
    const incident = parseIncident(incidentDoc({ goodwill: { amount: 500, currency: "JPY" } }));
    const quoted = (n: number, subscriber: string) => row({ subscriber_id: subscriber, service_code: 'IMA"DOKO' }, n);
    const rows = [
      ...Array.from({ length: 12 }, (_, i) => row({ subscriber_id: `S-${i % 3}` }, i)),
      quoted(20, "S-9"),
      row({ subscriber_id: "S-3" }, 21),
      quoted(22, "S-3"),
      row({ subscriber_id: "S-3" }, 23),
      quoted(24, "S-4"),
      row({ subscriber_id: "S-4" }, 25),
      row({ subscriber_id: "S-4" }, 26),
    ];
    const csv = csvOf(rows);
    const reference = await runReference(incident, csv);
    const threaded = await runFast(incident, csv, { rangeBytes: 64, chunkBytes: 128 });
    expect(threaded.ranges).toBeGreaterThan(3);
    expect(threaded.text).toBe(reference.lines.map(toJsonLine).join(""));
    expect(threaded.counts).toEqual(reference.counts);
    const credited = reference.lines.filter((l) => l.unit === "goodwill").map((l) => l.subscriberId);
    expect(credited).toEqual(["S-0", "S-1", "S-2", "S-3", "S-4"]); // S-9's quoted record is skipped: IMA"DOKO
    expect(threaded.counts.goodwillLines).toBe(5);
  });

  it("reads a header of 17 columns, the fee last, at the right places (3 days of 31 at 3,100 JPY is 300 JPY)", async () => {
    const incident = parseIncident(incidentDoc());
    const header =
      "subscription_id,subscriber_id,service_code,currency,active_from,active_to,time_zone,billing_day," +
      "n1,n2,n3,n4,n5,n6,n7,n8,monthly_fee";
    const csv = `${header}\nC1,S1,IMADOKO,JPY,2011-01-01,,,,,,,,,,,,3100\nC2,S2,IMADOKO,JPY,2011-01-01,,,15,,,,,,,,,3100\n`;
    const fast = await runFast(incident, csv);
    expect(fast.text).toBe((await runReference(incident, csv)).lines.map(toJsonLine).join(""));
    expect(fast.text).toContain(
      '"subscriptionId":"C1","subscriberId":"S1","serviceCode":"IMADOKO","periodStart":"2011-12-01","periodEnd":"2012-01-01","unit":"day","units":3,"basis":31,"amount":300',
    );
    expect(fast.text).toContain(
      '"subscriptionId":"C2","subscriberId":"S2","serviceCode":"IMADOKO","periodStart":"2011-12-15","periodEnd":"2012-01-15"',
    );
  });

  it("keeps its memory bounded through 12,000 different fees and 25,000 partial classes, same lines and totals", async () => {
    const incident = parseIncident(incidentDoc({ goodwill: { amount: 500, currency: "JPY" } }));
    const start = Date.UTC(2011, 11, 20, 14, 30) / 1000; // inside the window (20th 23:30 JST … 22nd 14:00 JST)
    const rows = Array.from({ length: 25_000 }, (_, i) =>
      row({ monthly_fee: String(1000 + (i % 12_000)), active_to: iso(start + (i + 1) * 5) }, i),
    );
    const csv = csvOf(rows);
    const reference = await runReference(incident, csv);
    const fast = await runFast(incident, csv);
    expect(fast.text).toBe(reference.lines.map(toJsonLine).join(""));
    expect(fast.counts).toEqual(reference.counts);
    expect(reference.counts.lines).toBe(50_000); // a line and a goodwill line each
  });

  it("refuses a snapshot without a header, naming it, before writing anything", async () => {
    const incident = parseIncident(incidentDoc());
    await expect(runFast(incident, "")).rejects.toThrow("subscriptions: the file is empty: it needs a header row");
    await expect(runFast(incident, "a,b\n1,2\n")).rejects.toThrow(/subscriptions: line 1: the header lacks/);
  });
});

/**
 * A runner in this thread that hands its buffers over as a worker thread does: each in a task of its own (a message),
 * outside the range's promise, after `delay(call)` ms; `fails(call)` makes its `call`th range (counted over all the
 * runners of `calls`, from 1) fail instead.
 */
function likeAWorker(
  runner: RangeRunner,
  calls: { runs: number },
  behaviour: { delay?: (call: number) => number; fails?: (call: number) => boolean },
): RangeRunner {
  return {
    ids: (job) => runner.ids(job),
    run: async (setup, range, output) => {
      const call = ++calls.runs;
      if (behaviour.fails?.(call)) throw new Error(`range ${call} failed`);
      const outputs: RangeOutput[] = [];
      const result = await runner.run(setup, range, (o) => outputs.push({ bytes: o.bytes.slice(), marks: o.marks }));
      await sleep(behaviour.delay?.(call) ?? 0);
      return new Promise((resolve) => {
        setImmediate(() => {
          for (const o of outputs) output(o);
          setImmediate(() => resolve(result));
        });
      });
    },
  };
}

/**
 * The threaded path on 300 rows in ranges of 1 KB, two runners `likeAWorker`, the sink's `write` given: the run's
 * error, and what was done after the run ended (writes to the sink, ranges started).
 */
async function failingRun(
  behaviour: Parameters<typeof likeAWorker>[2],
  write: (bytes: Uint8Array) => void = () => {},
): Promise<{ error: unknown; writesAfter: number; runsAfter: number }> {
  const incident = parseIncident(incidentDoc());
  const bytes = new TextEncoder().encode(csvOf(Array.from({ length: 300 }, (_, i) => row({}, i))));
  const chunksOf = function* (range: ByteRange) {
    yield bytes.slice(range.start, Math.min(range.end, bytes.length));
  };
  const source = {
    name: "subscriptions",
    size: bytes.length,
    async *chunks() {
      yield bytes.slice();
    },
  };
  const calls = { runs: 0 };
  const runners = [1, 2].map(() =>
    likeAWorker(inThisThread(incident, toJsonLine, source.name, chunksOf), calls, behaviour),
  );
  let ended = false;
  let writesAfter = 0;
  const sink = {
    write: (b: Uint8Array) => {
      if (ended) writesAfter++;
      write(b);
    },
    reject: () => {},
  };
  const error = await computeRefundsFast(incident, source, sink, { parallel: { runners, rangeBytes: 1024 } }).then(
    () => undefined,
    (e) => e,
  );
  ended = true;
  const runsAtEnd = calls.runs;
  await sleep(100); // what a runner still had in hand comes by then
  return { error, writesAfter, runsAfter: calls.runs - runsAtEnd };
}

describe("computeRefundsFast on ranges, when something fails", () => {
  it("fails with the error of a runner that fails on its second range, once the other's range is in: nothing written after", async () => {
    // Act: the first range takes 30 ms; the second fails at once
    const run = await failingRun({ delay: (call) => (call === 1 ? 30 : 0), fails: (call) => call === 2 });

    // Assess
    expect(run.error).toEqual(new Error("range 2 failed"));
    expect(run.writesAfter).toBe(0);
    expect(run.runsAfter).toBe(0);
  });

  it.each([1, 3])(
    "fails with the sink's error when its write %i throws (a full disk), in a worker's message or in the join: nothing more written, no range started",
    async (failing) => {
      // Prepare: writes from a worker's message (the range being joined) and from the join (held buffers)
      let writes = 0;
      const write = () => {
        if (++writes === failing)
          throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      };

      // Act
      const run = await failingRun({ delay: (call) => (call % 2 === 1 ? 10 : 0) }, write);

      // Assess
      expect(run.error).toEqual(expect.objectContaining({ code: "ENOSPC" }));
      expect(writes).toBe(failing);
      expect(run.writesAfter).toBe(0);
      expect(run.runsAfter).toBe(0);
    },
  );

  it("computes the ranges on its runners (the threaded path ran, in several ranges)", async () => {
    const run = await runFast(parseIncident(incidentDoc()), csvOf(Array.from({ length: 300 }, (_, i) => row({}, i))), {
      rangeBytes: 1024,
    });
    expect(run.ranges).toBeGreaterThan(10);
  });
});
