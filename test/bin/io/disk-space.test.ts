import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { diskFullError, freeBytes, isInternalFailure, LOW_SPACE_BYTES } from "../../../bin/io/disk-space";
import { LocalStateError } from "../../../bin/usage-error";
import { UnprocessedItemsError } from "../../../functions/commons/dynamodb/dynamodb-refund-store";

const RESUME = "hiwari run --incident i.json --subscriptions s.csv --state /st --request-id req-1";
/** What to do once space is freed, as `hiwari run` says it. */
const THEN = `run the same request again (it takes up where it stopped): ${RESUME}`;
const plenty = () => 50 * 1024 ** 3;
const little = () => 8192;

/** An Error with an errno code, as node:fs throws it (appendFileSync on a full disk). */
function errno(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** An error as the AWS SDK throws DynamoDB Local's "unknown error" (HTTP 500). */
function internalFailure(fields: Record<string, unknown> = {}): Error {
  const e = new Error("The request processing has failed because of an unknown error, exception or failure.");
  e.name = "InternalFailure";
  return Object.assign(e, { $fault: "server", $metadata: { httpStatusCode: 500 }, ...fields });
}

describe("diskFullError", () => {
  it("names ENOSPC as a full disk: the folder, the free bytes, nothing lost, and ends with how to resume", () => {
    // Arrange
    const error = errno("ENOSPC", "ENOSPC: no space left on device, write");

    // Act
    const full = diskFullError(error, "/st", THEN, () => 4096);

    // Assess
    expect(full).toBeInstanceOf(LocalStateError);
    const message = full?.message ?? "";
    expect(message).toMatch(/^the disk holding \/st is full \(4,096 bytes free\): /);
    expect(message).toContain("ENOSPC: no space left on device, write");
    expect(message).toContain("Nothing stored was lost");
    expect(message.endsWith(`then run the same request again (it takes up where it stopped): ${RESUME}`)).toBe(true);
  });

  it("finds ENOSPC anywhere in the cause chain", () => {
    const deep = new Error("drain failed", {
      cause: new Error("append failed", { cause: errno("ENOSPC", "ENOSPC: no space left on device, write") }),
    });
    expect(diskFullError(deep, "/st", THEN, plenty)?.message).toContain("ENOSPC: no space left on device");
  });

  it("takes a used-up quota (EDQUOT) for a full disk too, and says so", () => {
    const full = diskFullError(errno("EDQUOT", "EDQUOT: disk quota exceeded, write"), "/st", THEN, little);
    expect(full?.message).toMatch(/^the disk quota of the user writing \/st is used up: /);
  });

  it("names ENOSPC even when the free space cannot be measured, without a count", () => {
    const full = diskFullError(errno("ENOSPC", "ENOSPC: no space left on device, write"), "/st", THEN, () => {
      throw errno("ENOENT", "no such folder");
    });
    expect(full?.message).toMatch(/^the disk holding \/st is full: /);
  });

  it("takes a DynamoDB Local internal failure for a full disk when little space is left, and measures its data folder", () => {
    // Arrange: a state folder with its DynamoDB Local data folder
    const state = mkdtempSync(join(tmpdir(), "hiwari-disk-"));
    mkdirSync(join(state, "dynamodb"));
    const measured: string[] = [];

    // Act
    const full = diskFullError(internalFailure(), state, THEN, (dir) => {
      measured.push(dir);
      return 8192;
    });

    // Assess
    expect(full).toBeInstanceOf(LocalStateError);
    expect(measured).toEqual([join(state, "dynamodb")]);
    expect(full?.message).toMatch(new RegExp(`^the disk holding ${state} is full \\(8,192 bytes free\\): `));
    expect(full?.message).toContain(`DynamoDB Local could not write its data under ${join(state, "dynamodb")}`);
    expect(full?.message).toContain("InternalFailure: The request processing has failed because of an unknown error");
    expect(full?.message.endsWith(RESUME)).toBe(true);
  });

  it("does not call an internal failure a full disk when there is plenty of space, or just the threshold", () => {
    expect(diskFullError(internalFailure(), "/st", THEN, plenty)).toBeUndefined();
    expect(diskFullError(internalFailure(), "/st", THEN, () => LOW_SPACE_BYTES)).toBeUndefined();
    expect(diskFullError(internalFailure(), "/st", THEN, () => LOW_SPACE_BYTES - 1)).toBeInstanceOf(LocalStateError);
  });

  it("does not call an internal failure a full disk when the space cannot be measured", () => {
    const unmeasurable = () => {
      throw errno("ENOENT", "no such folder");
    };
    expect(diskFullError(internalFailure(), "/st", THEN, unmeasurable)).toBeUndefined();
  });

  it("recognises DynamoDB Local's failures by name, __type, HTTP 500, or a batch handed back unprocessed", () => {
    const byType = Object.assign(new Error("x"), { __type: "com.amazonaws.dynamodb.v20120810#InternalFailure" });
    const server = Object.assign(new Error("x"), { name: "InternalServerError" });
    const status = Object.assign(new Error("x"), { name: "Unknown", $metadata: { httpStatusCode: 500 } });
    const unprocessed = new UnprocessedItemsError("BatchWriteItem: items", 1);
    for (const e of [internalFailure(), byType, server, status, unprocessed]) {
      expect(isInternalFailure(e)).toBe(true);
      expect(diskFullError(e, "/st", THEN, little)).toBeInstanceOf(LocalStateError);
    }
  });

  it("leaves every other error alone, however little space is left", () => {
    const conditional = Object.assign(new Error("The conditional request failed"), {
      name: "ConditionalCheckFailedException",
      $metadata: { httpStatusCode: 400 },
    });
    const throttled = Object.assign(new Error("slow down"), { name: "ThrottlingException" });
    const others = [
      conditional,
      throttled,
      new TypeError("x is undefined"),
      errno("ENOENT", "ENOENT: no such file or directory"),
      errno("EACCES", "EACCES: permission denied"),
      new Error("unprocessed"),
      "ENOSPC",
      undefined,
      null,
      { code: 28 },
    ];
    for (const e of others) expect(diskFullError(e, "/st", THEN, little)).toBeUndefined();
  });

  it("does not loop on a cause chain that cycles", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    Object.assign(a, { cause: b });
    expect(diskFullError(a, "/st", THEN, little)).toBeUndefined();
  });
});

describe("freeBytes", () => {
  it("measures the free bytes of a real folder's filesystem", () => {
    const free = freeBytes(tmpdir());
    expect(Number.isSafeInteger(free)).toBe(true);
    expect(free).toBeGreaterThan(0);
  });
});
