import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, ListTablesCommand, PutItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { checkDataFile, DATA_FILE, startDynamoDbLocal } from "../../../bin/io/dynamodb-local";
import { DamagedStateError } from "../../../bin/io/local-stream-reader";
import { LocalStateError } from "../../../bin/usage-error";
import { processesNaming } from "../../helpers/processes";

async function until(what: string, done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms / 1000} s: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("startDynamoDbLocal", () => {
  it("never outlives the process that started it, even one killed by SIGKILL", { timeout: 120_000 }, async () => {
    // Arrange: a process that starts DynamoDB Local on a data folder of its own, says so, and waits
    const data = join(mkdtempSync(join(tmpdir(), "hiwari-watchdog-")), "dynamodb");
    const script = `import { startDynamoDbLocal } from "./bin/io/dynamodb-local.ts";
      await startDynamoDbLocal(${JSON.stringify(data)});
      process.stdout.write("ready\\n");
      setInterval(() => {}, 1000);`;
    const owner = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((ready, failed) => {
      owner.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && ready());
      owner.once("exit", (code) => failed(new Error(`the owner exited with ${code} before DynamoDB Local was up`)));
    });
    expect(processesNaming(data).length).toBeGreaterThan(0);

    // Act: the owner is killed without a chance to stop anything
    owner.kill("SIGKILL");

    // Assess: DynamoDB Local goes too (the watchdog polls every half second, then SIGTERM, SIGKILL after 5 s)
    await until("DynamoDB Local gone", () => processesNaming(data).length === 0, 30_000);
  });
});

describe("startDynamoDbLocal on a damaged data file", () => {
  /** A data file DynamoDB Local wrote (a table of 40 items of 2 KB), and the numbers in its SQLite header. */
  let healthy: Buffer;
  let pageSize: number;
  let pages: number;

  beforeAll(async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "hiwari-healthy-")), "dynamodb");
    const db = await startDynamoDbLocal(dir);
    try {
      await db.client.send(
        new CreateTableCommand({
          TableName: "things",
          KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
          AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
      for (let i = 0; i < 40; i++)
        await db.client.send(
          new PutItemCommand({ TableName: "things", Item: { pk: { S: `item-${i}` }, body: { S: "x".repeat(2000) } } }),
        );
    } finally {
      await db.stop();
    }
    healthy = readFileSync(join(dir, DATA_FILE));
    pageSize = healthy.readUInt16BE(16);
    pages = healthy.readUInt32BE(28);
  }, 120_000);

  /** A state folder of its own whose DynamoDB data file holds `bytes`, with a stream checkpoint beside it. */
  function stateWith(bytes: Buffer, journal?: Buffer) {
    const state = mkdtempSync(join(tmpdir(), "hiwari-damaged-"));
    const dir = join(state, "dynamodb");
    mkdirSync(dir);
    const file = join(dir, DATA_FILE);
    writeFileSync(file, bytes);
    if (journal) writeFileSync(`${file}-journal`, journal);
    writeFileSync(join(state, "stream-checkpoint.json"), '{"positions":{},"committed":{}}\n');
    return { state, dir, file };
  }

  const n = (v: number) => v.toLocaleString("en-US");

  const damages: [string, () => Buffer, () => string][] = [
    [
      "cut to half its pages",
      () => healthy.subarray(0, pageSize * Math.floor(pages / 2)),
      () => `is ${n(pageSize * Math.floor(pages / 2))} bytes where its header says ${n(pages)} pages of ${n(pageSize)}`,
    ],
    [
      "cut inside a page",
      () => healthy.subarray(0, pageSize * Math.floor(pages / 2) + 123),
      () =>
        `is ${n(pageSize * Math.floor(pages / 2) + 123)} bytes where its header says ${n(pages)} pages of ${n(pageSize)}`,
    ],
    [
      "cut inside a page, its header's page count not valid (change counter ≠ version-valid-for)",
      () => {
        const bytes = Buffer.from(healthy.subarray(0, pageSize * Math.floor(pages / 2) + 123));
        bytes.writeUInt32BE(bytes.readUInt32BE(24) + 1, 92);
        return bytes;
      },
      () =>
        `is ${n(pageSize * Math.floor(pages / 2) + 123)} bytes, not a whole number of its ${n(pageSize)}-byte pages`,
    ],
    [
      "its first 100 bytes zeroed",
      () => Buffer.concat([Buffer.alloc(100), healthy.subarray(100)]),
      () => 'begins with zeros where a SQLite database begins with "SQLite format 3"',
    ],
    [
      "not a database (other bytes)",
      () => Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31 + 7) % 251)),
      () => 'does not begin with "SQLite format 3"',
    ],
    ["empty, the folder beside it used", () => Buffer.alloc(0), () => "is empty (0 bytes) where the state folder"],
    [
      "shorter than the header",
      () => healthy.subarray(0, 50),
      () => "is 50 bytes, shorter than SQLite's 100-byte header",
    ],
    [
      "a page size SQLite never writes",
      () => {
        const bytes = Buffer.from(healthy);
        bytes.writeUInt16BE(1000, 16);
        return bytes;
      },
      () => "gives a page size of 1,000",
    ],
  ];

  it.each(damages)("%s: named as damaged, and DynamoDB Local is not started", async (_, bytes, why) => {
    // Arrange
    const { state, dir, file } = stateWith(bytes());

    // Act
    const error = await startDynamoDbLocal(dir).catch((e: unknown) => e);

    // Assess: the file, what is wrong with it, how to recover and what that loses; no Java process on the folder
    expect(error).toBeInstanceOf(DamagedStateError);
    expect(error).toBeInstanceOf(LocalStateError);
    const message = (error as Error).message;
    expect(message.startsWith(`${file} is damaged: `)).toBe(true);
    expect(message).toContain(why());
    expect(message).toContain(`restore ${dir} from a backup`);
    expect(message).toContain(`move ${dir} away and start over with empty tables, which loses the runs and lines`);
    expect(message).toContain(`${join(state, "stream-checkpoint.json")} then no longer matches`);
    expect(processesNaming(dir)).toEqual([]);
  });

  it("an empty file in a folder never used (a kill before SQLite's first write) is a new database: it starts", {
    timeout: 120_000,
  }, async () => {
    const state = mkdtempSync(join(tmpdir(), "hiwari-empty-"));
    const dir = join(state, "dynamodb");
    mkdirSync(dir);
    writeFileSync(join(dir, DATA_FILE), Buffer.alloc(0));
    const db = await startDynamoDbLocal(dir);
    try {
      expect((await db.client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    } finally {
      await db.stop();
    }
  });

  it("damage its header does not show: named from what SQLite says, without waiting out the deadline", {
    timeout: 120_000,
  }, async () => {
    // Arrange: the first page past the header (sqlite_master's root) zeroed
    const { dir, file } = stateWith(
      Buffer.concat([healthy.subarray(0, 100), Buffer.alloc(pageSize - 100), healthy.subarray(pageSize)]),
    );

    // Act: a deadline far beyond the test's own timeout
    const error = await startDynamoDbLocal(dir, 3_600_000).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(DamagedStateError);
    expect((error as Error).message).toContain(
      `${file} is damaged: SQLite, under DynamoDB Local, says "database disk image is malformed"`,
    );
    expect((error as Error).message).toContain(`restore ${dir} from a backup`);
    await until("DynamoDB Local gone", () => processesNaming(dir).length === 0, 30_000);
  });

  it("a healthy file passes the check and starts, its table and items there", { timeout: 120_000 }, async () => {
    // Arrange
    const { dir } = stateWith(healthy);

    // Act
    const db = await startDynamoDbLocal(dir);

    // Assess
    try {
      expect((await db.client.send(new ListTablesCommand({}))).TableNames).toEqual(["things"]);
      expect((await db.client.send(new ScanCommand({ TableName: "things", Select: "COUNT" }))).Count).toBe(40);
    } finally {
      await db.stop();
    }
  });

  it("a hot rollback journal beside a file that differs from its header is left to SQLite", () => {
    // Arrange: a transaction cut off by a kill (the journal's header begins with SQLite's journal magic)
    const cut = healthy.subarray(0, pageSize * Math.floor(pages / 2));
    const hot = stateWith(cut, Buffer.concat([Buffer.from("d9d505f920a163d7", "hex"), Buffer.alloc(504)]));
    const zeroed = stateWith(cut, Buffer.alloc(512)); // a journal zeroed after its commit: not hot

    // Act, Assess
    expect(() => checkDataFile(hot.file)).not.toThrow();
    expect(() => checkDataFile(zeroed.file)).toThrow(DamagedStateError);
  });

  it("no data file yet (a new folder) passes the check", () => {
    expect(() => checkDataFile(join(mkdtempSync(join(tmpdir(), "hiwari-new-")), DATA_FILE))).not.toThrow();
  });

  it("not answering by the deadline names the data file as a likely cause", { timeout: 120_000 }, async () => {
    // Arrange: a healthy file; a deadline DynamoDB Local (a JVM starting) cannot meet
    const { dir, file } = stateWith(healthy);

    // Act
    const error = await startDynamoDbLocal(dir, 1).catch((e: unknown) => e);

    // Assess: no stack trace in the CLI (LocalStateError), the file and how to recover
    expect(error).toBeInstanceOf(LocalStateError);
    expect(error).not.toBeInstanceOf(DamagedStateError);
    const message = (error as Error).message;
    expect(message).toMatch(/^DynamoDB Local did not answer on http:\/\/127\.0\.0\.1:\d+ within 0\.001 s/);
    expect(message).toContain(`its data file ${file} (${n(healthy.length)} bytes) may be damaged`);
    expect(message).toContain(`restore ${dir} from a backup`);
    await until("DynamoDB Local gone", () => processesNaming(dir).length === 0, 30_000);
  });
});
