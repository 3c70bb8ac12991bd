import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DynamoDbLocal, startDynamoDbLocal } from "../../../bin/io/dynamodb-local";
import { DamagedStateError, describeRepair, drainStream, type Repair } from "../../../bin/io/local-stream-reader";
import { createTables } from "../../../functions/commons/dynamodb/create-tables";

// A fresh DynamoDB Local for this file; each test writes to a table of its own (its own stream).
let db: DynamoDbLocal;
beforeAll(async () => {
  db = await startDynamoDbLocal();
}, 60_000);
afterAll(async () => {
  await db?.stop();
});

/** A state folder and a refunds table with a stream, holding `n` items (one stream record each). */
async function world(name: string, n: number) {
  const tables = { refunds: `${name}-refunds`, runs: `${name}-runs` };
  await createTables(db.client, tables);
  const dir = mkdtempSync(join(tmpdir(), "hiwari-stream-"));
  const put = async (from: number, count: number) => {
    for (let i = from; i < from + count; i++)
      await db.client.send(
        new PutItemCommand({ TableName: tables.refunds, Item: { pk: { S: `L-${i}` }, sk: { S: "LINE" } } }),
      );
  };
  await put(0, n);
  const events = join(dir, "events.jsonl");
  const checkpoint = join(dir, "stream-checkpoint.json");
  /** Drains as the local bus does: one whole line per record, appended in one write per page. */
  const drain = (
    handle?: (records: DynamoDBRecord[], text: string) => unknown,
    onCommitted?: (records: number) => void,
  ) =>
    drainStream(
      db.endpoint,
      tables.refunds,
      checkpoint,
      async (records) => {
        const text = records.map((r) => `${JSON.stringify({ eventId: r.eventID, key: r.dynamodb?.Keys })}\n`).join("");
        if (handle) {
          const failed = handle(records, text); // the failed records' sequence numbers, if it returns any
          return Array.isArray(failed) ? failed : [];
        }
        appendFileSync(events, text);
        return [];
      },
      {
        batchSize: 4,
        outputs: [{ path: events, idOf: (line) => (JSON.parse(line) as { eventId: string }).eventId }],
        onCommitted,
      },
    );
  /** The events file, line by line: every line whole JSON, and the eventIds. */
  const eventIds = () => {
    const text = existsSync(events) ? readFileSync(events, "utf8") : "";
    expect(text === "" || text.endsWith("\n")).toBe(true);
    return text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => (JSON.parse(l) as { eventId: string }).eventId);
  };
  return { put, drain, eventIds, events, checkpoint };
}

class Killed extends Error {}

describe("drainStream and the files its handler appends to", () => {
  it("tells of each page once it is committed, so what went out before a page that throws is counted", async () => {
    const w = await world("heard", 10);
    const heard: number[] = [];
    let pages = 0;
    const error = await w
      .drain(
        (_, text) => {
          if (++pages === 3) throw new Error("ENOSPC: no space left on device, write");
          appendFileSync(w.events, text);
        },
        (records) => heard.push(records),
      )
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^ENOSPC/);
    expect(heard).toEqual([4, 4]); // pages of 4: the third (2 records) threw before its commit
    expect(w.eventIds()).toHaveLength(8);
  });

  it("appends again, once, a page whose process died after appending it and before committing it", async () => {
    // Arrange: 10 records, pages of 4; the second page is appended, then the process "dies"
    const w = await world("died-after-append", 10);
    let page = 0;
    const dying = (_records: DynamoDBRecord[], text: string) => {
      appendFileSync(w.events, text);
      if (++page === 2) throw new Killed();
    };
    await expect(w.drain(dying)).rejects.toThrow(Killed);
    expect(w.eventIds()).toHaveLength(8); // both pages in the file, the second one uncommitted

    // Act
    const resumed = await w.drain();

    // Assess: every record once, the second page's once
    const ids = w.eventIds();
    expect(ids).toHaveLength(10);
    expect(new Set(ids).size).toBe(10);
    expect(resumed.handled).toBe(6);
  });

  it.each([
    ["the first page (no checkpoint yet)", 1],
    ["a later page", 2],
  ])(
    "cuts a line torn by a death inside the append of %s (or a full disk) and appends its page again",
    async (_, torn) => {
      // Arrange: the page's append stops half-way through a line
      const w = await world(`torn-${torn}`, 9);
      let page = 0;
      const tearing = (_records: DynamoDBRecord[], text: string) => {
        if (++page === torn) {
          appendFileSync(w.events, text.slice(0, Math.floor(text.length / 2) + 3));
          throw new Killed();
        }
        appendFileSync(w.events, text);
      };
      await expect(w.drain(tearing)).rejects.toThrow(Killed);
      expect(readFileSync(w.events, "utf8").endsWith("\n")).toBe(false);

      // Act
      await w.drain();

      // Assess
      const ids = w.eventIds();
      expect(ids).toHaveLength(9);
      expect(new Set(ids).size).toBe(9);
    },
  );

  it("repairs an events file cut short mid-line from the stream: each record once, the newer ones after", async () => {
    // Arrange: a whole drain of 7, then the file loses its tail (mid-line); 2 more records come
    const w = await world("cut-short", 7);
    await w.drain();
    const whole = w.eventIds();
    truncateSync(w.events, readFileSync(w.events, "utf8").indexOf("\n", 40) + 10);
    await w.put(7, 2);

    // Act
    const result = await w.drain();

    // Assess: the 6 lost lines back (the torn one among them), then the 2 new; each once, every line whole
    const ids = w.eventIds();
    expect(ids).toHaveLength(9);
    expect(new Set(ids).size).toBe(9);
    expect(ids.slice(0, 7).sort()).toEqual([...whole].sort());
    expect(result.repairs).toEqual([{ file: w.events, restored: 6, missing: 0 }]);
    expect(result.handled).toBe(2);
    expect(describeRepair(result.repairs[0] as Repair)).toBe(
      `${w.events} was cut short or removed: 6 lines restored from the table's stream and appended; nothing published is missing from it now`,
    );
  });

  it("repairs a removed events file from the stream, and the next drain finds nothing to repair", async () => {
    const w = await world("removed", 5);
    await w.drain();
    rmSync(w.events);

    const result = await w.drain();
    const again = await w.drain();

    expect(w.eventIds()).toHaveLength(5);
    expect(new Set(w.eventIds()).size).toBe(5);
    expect(result.repairs).toEqual([{ file: w.events, restored: 5, missing: 0 }]);
    expect(again).toEqual({ handled: 0, failed: 0, repairs: [] });
  });

  it("finishes a repair whose process died half-way, without keeping the dead repair's lines twice", async () => {
    // Arrange: 9 records drained; the file removed; the repair dies inside its second page's append
    const w = await world("repair-dies", 9);
    await w.drain();
    rmSync(w.events);
    let page = 0;
    const dying = (_records: DynamoDBRecord[], text: string) => {
      if (++page === 2) {
        appendFileSync(w.events, text.slice(0, 30));
        throw new Killed();
      }
      appendFileSync(w.events, text);
    };
    await expect(w.drain(dying)).rejects.toThrow(Killed);
    expect(JSON.parse(readFileSync(w.checkpoint, "utf8")).repairing).toEqual({
      from: { "events.jsonl": 0 },
      damaged: ["events.jsonl"],
    });

    // Act
    const result = await w.drain();

    // Assess
    const ids = w.eventIds();
    expect(ids).toHaveLength(9);
    expect(new Set(ids).size).toBe(9);
    expect(result.repairs).toEqual([{ file: w.events, restored: 9, missing: 0 }]);
    expect(JSON.parse(readFileSync(w.checkpoint, "utf8")).repairing).toBeUndefined();
  });

  it("says how many published lines the stream no longer held (DynamoDB Local keeps 24 hours)", async () => {
    // Arrange: the checkpoint says 3 lines more were published than the stream holds (as after records older than
    // 24 hours were trimmed from it); then the file is cut short
    const w = await world("trimmed", 4);
    await w.drain();
    const checkpoint = JSON.parse(readFileSync(w.checkpoint, "utf8"));
    checkpoint.lines["events.jsonl"] += 3;
    writeFileSync(w.checkpoint, JSON.stringify(checkpoint));
    truncateSync(w.events, 0);

    // Act
    const result = await w.drain();

    // Assess
    expect(result.repairs).toEqual([{ file: w.events, restored: 4, missing: 3 }]);
    expect(describeRepair(result.repairs[0] as Repair)).toContain(
      "3 lines published before could not be restored: the stream no longer holds them (DynamoDB Local keeps 24 hours)",
    );
  });

  it("names a garbled checkpoint and how to recover, instead of a bare SyntaxError", async () => {
    const w = await world("garbled", 2);
    writeFileSync(w.checkpoint, '{"positions": {"arn|shard": "12');
    const error = await w.drain().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DamagedStateError);
    expect((error as Error).message).toContain(`${w.checkpoint}: not the stream checkpoint hiwari writes (`);
    expect((error as Error).message).toContain("move it away");
  });

  it("reads its own table's stream among other tables' streams, and names a table without one", async () => {
    // Arrange: two tables with streams written to, each with its own records
    const mine = await world("mine", 3);
    const other = await world("other", 5);

    // Act
    const drained = await mine.drain();
    const noStream = await drainStream(
      db.endpoint,
      "mine-runs",
      join(mkdtempSync(join(tmpdir(), "hiwari-stream-")), "checkpoint.json"),
      async () => [],
    ).catch((e: unknown) => e);

    // Assess: its three records only; the other table's five are still there for its own drain
    expect(drained.handled).toBe(3);
    expect(mine.eventIds()).toHaveLength(3);
    expect((await other.drain()).handled).toBe(5);
    expect((noStream as Error).message).toBe("table mine-runs has no stream");
  });

  it("reads a checkpoint of positions only (written before lengths were kept), cutting only a torn last line", async () => {
    // Arrange: a whole drain; the checkpoint rewritten in the earlier format; a torn line at the end
    const w = await world("earlier-format", 3);
    await w.drain();
    const { positions } = JSON.parse(readFileSync(w.checkpoint, "utf8")) as { positions: Record<string, string> };
    writeFileSync(w.checkpoint, JSON.stringify(positions));
    appendFileSync(w.events, '{"eventId":"to');
    await w.put(3, 2);

    // Act
    await w.drain();

    // Assess: the three earlier records not again, the two new ones once, no torn line
    const ids = w.eventIds();
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(5);
  });

  it("cuts what a page that failed part-way appended: delivered again whole, each record once", async () => {
    // Arrange: the second page appends all its lines but reports its third record failed (as a park that failed)
    const w = await world("partial", 10);
    let page = 0;
    const partly = (records: DynamoDBRecord[], text: string) => {
      appendFileSync(w.events, text);
      return ++page === 2 ? [records[2]?.dynamodb?.SequenceNumber ?? ""] : [];
    };
    const first = await w.drain(partly);

    // Act
    await w.drain();

    // Assess
    expect(first).toMatchObject({ handled: 4, failed: 2 });
    const ids = w.eventIds();
    expect(ids).toHaveLength(10);
    expect(new Set(ids).size).toBe(10);
  });

  it("repairs an events file removed while it is drained (as a log rotation would), and goes on", async () => {
    // Arrange: the file is removed between two pages
    const w = await world("shrinks", 10);
    let page = 0;
    const removing = (_records: DynamoDBRecord[], text: string) => {
      if (++page === 2) rmSync(w.events);
      appendFileSync(w.events, text);
    };

    // Act
    const result = await w.drain(removing);

    // Assess: the first page's 4 lines restored after the second's; the third page appended; each once
    const ids = w.eventIds();
    expect(ids).toHaveLength(10);
    expect(new Set(ids).size).toBe(10);
    expect(result.repairs).toEqual([{ file: w.events, restored: 4, missing: 0 }]);
    expect(result.handled).toBe(10);
  });

  it("repairs an events file replaced between two drains by one as long (its last bytes differ)", async () => {
    // Arrange: a whole drain; the file rewritten with other lines of the same length
    const w = await world("replaced", 4);
    await w.drain();
    const text = readFileSync(w.events, "utf8");
    // Other ids and keys, the same bytes long (the last 64 bytes, which the checkpoint keeps, differ)
    writeFileSync(w.events, text.replace(/"eventId":"./g, '"eventId":"~').replaceAll("L-", "X-"));

    // Act
    const result = await w.drain();

    // Assess: the four records' lines appended again, after the replaced ones
    expect(result.repairs).toEqual([{ file: w.events, restored: 4, missing: 0 }]);
    expect(w.eventIds()).toHaveLength(8);
    expect(readFileSync(w.events, "utf8").endsWith(text)).toBe(true);
  });

  it("says it cannot tell what is missing when the checkpoint kept no line count (an earlier hiwari)", async () => {
    const w = await world("no-count", 4);
    await w.drain();
    const { lines: _, ...earlier } = JSON.parse(readFileSync(w.checkpoint, "utf8"));
    writeFileSync(w.checkpoint, JSON.stringify(earlier));
    truncateSync(w.events, 0);

    const result = await w.drain();

    expect(result.repairs).toEqual([{ file: w.events, restored: 4, missing: undefined }]);
    expect(describeRepair(result.repairs[0] as Repair)).toContain("how many lines it held before is not known");
  });

  it("adds only what the file lacks when the checkpoint was moved away (no record twice), then goes on", async () => {
    // Arrange: 6 records drained; the checkpoint moved away; the file loses its last line; 2 more records
    const w = await world("moved-away", 6);
    await w.drain();
    rmSync(w.checkpoint);
    const text = readFileSync(w.events, "utf8");
    writeFileSync(w.events, text.slice(0, text.lastIndexOf("\n", text.length - 2) + 1));
    await w.put(6, 2);

    // Act
    await w.drain();
    const again = await w.drain();

    // Assess
    const ids = w.eventIds();
    expect(ids).toHaveLength(8);
    expect(new Set(ids).size).toBe(8);
    expect(again.handled).toBe(0);
  });

  it("redoes a killed repair from the file's whole lines when the file was cut again since", async () => {
    // Arrange: a repair dies after its first page; then the file is cut mid-line below where the repair began
    const w = await world("repair-cut-again", 9);
    await w.drain();
    truncateSync(w.events, readFileSync(w.events, "utf8").indexOf("\n") + 1 + 20);
    let page = 0;
    const dying = (_records: DynamoDBRecord[], text: string) => {
      appendFileSync(w.events, text);
      if (++page === 1) throw new Killed();
    };
    await expect(w.drain(dying)).rejects.toThrow(Killed);
    truncateSync(w.events, 15);

    // Act
    await w.drain();

    // Assess: whole lines, each record once
    const ids = w.eventIds();
    expect(ids).toHaveLength(9);
    expect(new Set(ids).size).toBe(9);
    expect(readFileSync(w.events, "utf8")).not.toContain("\u0000");
  });
});
