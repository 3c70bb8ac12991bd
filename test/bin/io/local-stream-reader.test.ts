import { appendFileSync, existsSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DynamoDbLocal, startDynamoDbLocal } from "../../../bin/io/dynamodb-local";
import { DamagedStateError, drainStream } from "../../../bin/io/local-stream-reader";
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
  const drain = (handle?: (records: DynamoDBRecord[], text: string) => void) =>
    drainStream(
      db.endpoint,
      db.client,
      tables.refunds,
      checkpoint,
      async (records) => {
        const text = records.map((r) => `${JSON.stringify({ eventId: r.eventID, key: r.dynamodb?.Keys })}\n`).join("");
        if (handle) handle(records, text);
        else appendFileSync(events, text);
        return [];
      },
      { batchSize: 4, outputs: [events] },
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

  it("cuts a line torn by a death inside the append (or a full disk) and appends its page again", async () => {
    // Arrange: the second page's append stops half-way through a line
    const w = await world("torn", 9);
    let page = 0;
    const torn = (_records: DynamoDBRecord[], text: string) => {
      if (++page === 2) {
        appendFileSync(w.events, text.slice(0, Math.floor(text.length / 2) + 3));
        throw new Killed();
      }
      appendFileSync(w.events, text);
    };
    await expect(w.drain(torn)).rejects.toThrow(Killed);
    expect(readFileSync(w.events, "utf8").endsWith("\n")).toBe(false);

    // Act
    await w.drain();

    // Assess
    const ids = w.eventIds();
    expect(ids).toHaveLength(9);
    expect(new Set(ids).size).toBe(9);
  });

  it("refuses an events file shorter than what was published, naming it, and appends nothing", async () => {
    // Arrange: a whole drain, then the file loses its tail; more records come
    const w = await world("cut-short", 5);
    await w.drain();
    truncateSync(w.events, 10);
    await w.put(5, 2);

    // Act
    const error = await w.drain().catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(DamagedStateError);
    expect((error as Error).message).toMatch(
      new RegExp(`^${w.events.replaceAll("\\", "\\\\")}: holds 10 bytes where [\\d,]+ were published`),
    );
    expect(readFileSync(w.events, "utf8")).toHaveLength(10);
  });

  it("names a garbled checkpoint and how to recover, instead of a bare SyntaxError", async () => {
    const w = await world("garbled", 2);
    writeFileSync(w.checkpoint, '{"positions": {"arn|shard": "12');
    const error = await w.drain().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DamagedStateError);
    expect((error as Error).message).toContain(`${w.checkpoint}: not the stream checkpoint hiwari writes (`);
    expect((error as Error).message).toContain("move it away");
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
});
