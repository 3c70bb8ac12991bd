import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { apiRuns, type RerunOptions, rerun } from "../../../bin/commands/rerun";
import { UsageError } from "../../../bin/usage-error";
import type { RunRecord } from "../../../shared/store/refund-store";
import { incidentDoc } from "../../helpers/factories";

// A local stand-in for the finance API behind API Gateway with IAM auth: it recomputes the SigV4 signature of each
// request as it received it (method, path, query, signed headers, body) with the known test credentials, and refuses
// a mismatch with 403 as API Gateway does. Only then does it answer like the API.

const REGION = "ap-northeast-1";
const KEYS = { accessKeyId: "AKIDHIWARITEST", secretAccessKey: "hiwari/test/secret+key" };
const credentials = async () => KEYS;
const MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details";

interface Seen {
  method: string;
  path: string;
  body: string;
  headers: IncomingMessage["headers"];
}

let server: Server;
let api: string;
let seen: Seen[];
/** Set by a test: the server checks the signature against a body altered after signing (as if in transit). */
let tamper: boolean;
/** Set by a test: the answer after a valid signature, instead of the fake API's. */
let answer: { status: number; body: unknown } | undefined;
let runsByRequest: Map<string, string>;

const amzDate = (d: string) => new Date(d.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z"));

/** API Gateway's check: the signature recomputed from what arrived, with the caller's own signing date. */
async function signatureProblem(req: IncomingMessage, body: string): Promise<string | undefined> {
  const authorization = req.headers.authorization;
  if (!authorization) return "Missing Authentication Token";
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(";") ?? [];
  const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
  const signer = new SignatureV4({
    service: "execute-api",
    region: REGION,
    credentials: KEYS,
    sha256: Hash.bind(null, "sha256"),
    applyChecksum: false,
  });
  const expected = await signer.sign(
    {
      method: req.method ?? "",
      protocol: "http:",
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(signedHeaders.map((h) => [h, String(req.headers[h])])),
      body: tamper ? body.replace('"dryRun":true', '"dryRun":false') : body,
    },
    { signingDate: amzDate(String(req.headers["x-amz-date"])) },
  );
  // API Gateway's message, with the canonical request it expected (the command prints the first line only).
  return expected.headers.authorization === authorization
    ? undefined
    : `${MISMATCH}.\n\nThe Canonical String for this request should have been\n'${req.method}\n${url.pathname}\n...'\n`;
}

const RECORD: RunRecord = {
  incidentId: "test-incident",
  runId: "run-7",
  requestedBy: "arn:aws:sts::123456789012:assumed-role/Finance/alice",
  reason: "window ended 14:00",
  dryRun: false,
  status: "completed",
  startedAt: "2012-01-10T01:00:00.000Z",
  completedAt: "2012-01-10T01:02:03.000Z",
  policy: { rule: "calendar-day", dayBasis: "actual", rounding: "floor" },
  incidentDigest: "ab",
  snapshotDigest: "cd",
  snapshotName: "s3://hiwari-snapshots/2011-12/subscriptions.csv",
  batchSize: 1000,
  counts: {
    rows: 1_234_567,
    computed: 1_234_000,
    skipped: 500,
    rejected: 67,
    calculated: 1_200_000,
    adjusted: 34_000,
    voided: 12,
    unchanged: 0,
  },
  totals: [
    // More than a double can hold exactly: shown digit for digit.
    { serviceCode: "IMADOKO", currency: "JPY", lines: 1_200_000, amount: "98765432109876543210" },
    { serviceCode: null, currency: "JPY", lines: 3, amount: "600" },
  ],
};
const FAILED: RunRecord = {
  ...RECORD,
  runId: "run-8",
  status: "failed",
  dryRun: true,
  reason: "preview",
  startedAt: "2012-01-11T01:00:00.000Z",
  completedAt: undefined,
  counts: undefined,
  totals: undefined,
  error: "snapshot s3://hiwari-snapshots/x.csv: NoSuchKey",
};

/** The finance API's answers, idempotent by request id as the real one is. */
function fakeApi(method: string, path: string, body: string): { status: number; body: unknown } {
  const m = /^\/prod\/incidents\/([^/]+)\/runs(?:\/([^/]+))?$/.exec(path);
  if (!m) return { status: 403, body: { message: "Missing Authentication Token" } };
  const [, incidentId, runId] = m;
  if (method === "POST" && !runId) {
    const { requestId } = JSON.parse(body) as { requestId: string };
    const known = runsByRequest.get(requestId);
    const id = known ?? `run-${runsByRequest.size + 1}`;
    runsByRequest.set(requestId, id);
    return {
      status: known ? 200 : 202,
      body: {
        runId: id,
        incidentId,
        status: known ? "completed" : "running",
        created: !known,
        links: { self: `/incidents/${incidentId}/runs/${id}` },
      },
    };
  }
  if (method === "GET" && !runId)
    return { status: 200, body: { runs: incidentId === "test-incident" ? [RECORD, FAILED] : [] } };
  if (method === "GET" && runId === "run-7") return { status: 200, body: RECORD };
  if (method === "GET") return { status: 404, body: { message: `no run ${runId} of incident ${incidentId}` } };
  return { status: 403, body: { message: "Missing Authentication Token" } };
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const path = new URL(req.url ?? "/", "http://x").pathname;
    seen.push({ method: req.method ?? "", path, body, headers: req.headers });
    const problem = await signatureProblem(req, body);
    const reply = problem
      ? { status: 403, body: { message: problem } }
      : (answer ?? fakeApi(req.method ?? "", path, body));
    if (typeof reply.body === "string") res.writeHead(reply.status, { "content-type": "text/html" }).end(reply.body);
    else res.writeHead(reply.status, { "content-type": "application/json" }).end(JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

let dir: string;
let incidentFile: string;
const doc = incidentDoc({ goodwill: { amount: 200, currency: "JPY" } });
beforeEach(() => {
  seen = [];
  tamper = false;
  answer = undefined;
  runsByRequest = new Map();
  dir = mkdtempSync(join(tmpdir(), "hiwari-rerun-"));
  incidentFile = join(dir, "incident.json");
  writeFileSync(incidentFile, JSON.stringify(doc));
});

const options = (extra: Partial<RerunOptions> = {}): RerunOptions => ({
  api,
  incident: incidentFile,
  snapshot: "s3://hiwari-snapshots/2011-12/subscriptions.csv",
  reason: "window ended 14:00, not 15:00",
  region: REGION,
  ...extra,
});

/** Runs a command with what it writes to stdout and stderr kept, not printed. */
async function capture(act: () => Promise<number>): Promise<{ status: number; stdout: string; stderr: string }> {
  const out = { stdout: [] as string[], stderr: [] as string[] };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const name of ["stdout", "stderr"] as const)
    process[name].write = ((chunk: string) => out[name].push(String(chunk)) > 0) as typeof process.stdout.write;
  try {
    const status = await act();
    return { status, stdout: out.stdout.join(""), stderr: out.stderr.join("") };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
  }
}

const HINT = "; check the AWS credentials (AWS_PROFILE), --region and the --api URL with its stage (e.g. /prod)";
const retry = (id: string) => `; retrying with --request-id ${id} is safe: the same request never starts a second run`;

describe("hiwari rerun --api", () => {
  it("sends a correctly signed POST with the exact body under the API's stage, and reports a run started now", async () => {
    const r = await capture(() =>
      rerun(options({ requestId: "req-1", dryRun: true, batchSize: "500", snapshotVersion: "v3" }), { credentials }),
    );
    expect(r).toEqual({
      status: 0,
      stdout:
        "run run-1 of incident test-incident (dry run): started now (status running)\n" +
        `  follow it: hiwari api-runs --api ${api} --incident-id test-incident --run-id run-1\n`,
      stderr: "",
    });
    expect(seen).toHaveLength(1);
    const [post] = seen as [Seen];
    expect(post.method).toBe("POST");
    expect(post.path).toBe("/prod/incidents/test-incident/runs");
    expect(post.headers["content-type"]).toBe("application/json");
    expect(post.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=AKIDHIWARITEST/\\d{8}/${REGION}/execute-api/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=[0-9a-f]{64}$`,
      ),
    );
    expect(JSON.parse(post.body)).toEqual({
      requestId: "req-1",
      incident: doc,
      snapshot: { bucket: "hiwari-snapshots", key: "2011-12/subscriptions.csv", versionId: "v3" },
      reason: "window ended 14:00, not 15:00",
      dryRun: true,
      batchSize: 500,
    });
  });

  it("prints a generated request id before sending; a retry with it sends the same request and finds the run", async () => {
    const first = await capture(() => rerun(options(), { credentials }));
    const id = /^hiwari: request id ([0-9a-f-]{36}); to retry this same request safely, pass --request-id \1\n$/.exec(
      first.stderr,
    )?.[1];
    expect(id).toBeDefined();
    expect(JSON.parse(seen[0]?.body ?? "").requestId).toBe(id);
    expect(first.status).toBe(0);

    const retry = await capture(() => rerun(options({ requestId: id }), { credentials }));
    expect(retry).toEqual({
      status: 0,
      stdout:
        "run run-1 of incident test-incident: found: this request was made before, nothing new was started (status completed)\n" +
        `  follow it: hiwari api-runs --api ${api} --incident-id test-incident --run-id run-1\n`,
      stderr: "", // the id was given: nothing to remember
    });
    expect(seen[1]?.body).toBe(seen[0]?.body);
  });

  it("prints the API's answer as JSON with --json", async () => {
    const r = await capture(() => rerun(options({ requestId: "req-j", json: true }), { credentials }));
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      requestId: "req-j",
      started: true,
      runId: "run-1",
      incidentId: "test-incident",
      status: "running",
      created: true,
      links: { self: "/incidents/test-incident/runs/run-1" },
    });
  });

  it("is refused with 403 when the body was altered after signing: exit 1, one clear line", async () => {
    tamper = true;
    const r = await capture(() => rerun(options({ requestId: "req-t", dryRun: true }), { credentials }));
    expect(r).toEqual({
      status: 1,
      stdout: "",
      stderr: `hiwari: the finance API answered HTTP 403: ${MISMATCH}${HINT}\n`,
    });
    expect(runsByRequest.size).toBe(0); // nothing was started
  });

  it("is refused with 403 when signed with a wrong secret key or for another region", async () => {
    const wrongKey = async () => ({ ...KEYS, secretAccessKey: "not-the-secret" });
    const key = await capture(() => rerun(options({ requestId: "req-k" }), { credentials: wrongKey }));
    expect(key).toEqual({
      status: 1,
      stdout: "",
      stderr: `hiwari: the finance API answered HTTP 403: ${MISMATCH}${HINT}\n`,
    });
    const region = await capture(() => rerun(options({ requestId: "req-r", region: "us-east-1" }), { credentials }));
    expect(region.status).toBe(1);
    expect(region.stderr).toBe(`hiwari: the finance API answered HTTP 403: ${MISMATCH}${HINT}\n`);
    expect(seen).toHaveLength(2);
    expect(runsByRequest.size).toBe(0);
  });

  it("prints the problems of a 400 answer one per line and exits 2", async () => {
    answer = {
      status: 400,
      body: {
        message: "the request cannot be run",
        problems: ["snapshot: no object s3://hiwari-snapshots/2011-12/subscriptions.csv", "reason: is required"],
      },
    };
    const r = await capture(() => rerun(options({ requestId: "req-400" }), { credentials }));
    expect(r).toEqual({
      status: 2,
      stdout: "",
      stderr:
        "hiwari: the finance API refused the request (HTTP 400): the request cannot be run\n" +
        "  snapshot: no object s3://hiwari-snapshots/2011-12/subscriptions.csv\n" +
        "  reason: is required\n",
    });
  });

  it("prints the status and the API's message on one line for 409 (exit 2) and 5xx (exit 1)", async () => {
    answer = { status: 409, body: { message: "request req-9 was made with another incident: use a new request id" } };
    expect(await capture(() => rerun(options({ requestId: "req-9" }), { credentials }))).toEqual({
      status: 2,
      stdout: "",
      stderr:
        "hiwari: the finance API answered HTTP 409: request req-9 was made with another incident: use a new request id\n",
    });
    answer = { status: 502, body: "<html>Bad Gateway</html>" };
    expect(await capture(() => rerun(options({ requestId: "req-9" }), { credentials }))).toEqual({
      status: 1,
      stdout: "",
      stderr: `hiwari: the finance API answered HTTP 502: <html>Bad Gateway</html>${retry("req-9")}\n`,
    });
  });

  it("names a bad incident field with its file and never sends the request", async () => {
    writeFileSync(incidentFile, JSON.stringify(incidentDoc({ policy: { dayBasis: "30" as never } })));
    await expect(rerun(options({ requestId: "req-bad" }), { credentials })).rejects.toThrow(
      new UsageError(`${incidentFile}: policy.dayBasis: must be the string "actual" or the number 30`),
    );
    writeFileSync(incidentFile, "{ not json");
    await expect(rerun(options(), { credentials })).rejects.toThrow(/^.*incident\.json: not valid JSON: /);
    await expect(rerun(options({ incident: join(dir, "nope.json") }), { credentials })).rejects.toThrow(
      new UsageError(`${join(dir, "nope.json")}: cannot read the incident: ENOENT`),
    );
    expect(seen).toHaveLength(0);
  });

  it("names other bad fields with their option, all at once, and never sends the request", async () => {
    const bad = options({ requestId: "has space", snapshot: "s3://Bad_Bucket/k", batchSize: "50", reason: " " });
    await expect(rerun(bad, { credentials })).rejects.toThrow(
      new UsageError(
        [
          "requestId (--request-id): must be 1 to 128 letters, digits or . _ : -",
          "snapshot.bucket (--snapshot): must be an S3 bucket name",
          "reason (--reason): is required",
          "batchSize (--batch-size): Too small: expected number to be >=100",
        ].join("\n"),
      ),
    );
    await expect(rerun(options({ snapshotVersion: "" }), { credentials })).rejects.toThrow(
      /^snapshot\.versionId \(--snapshot-version\): Too small/,
    );
    await expect(rerun(options({ batchSize: "1e3" }), { credentials })).rejects.toThrow(
      new UsageError('--batch-size: must be a whole number (got "1e3")'),
    );
    expect(seen).toHaveLength(0);
  });

  it("refuses a snapshot without the s3:// scheme and an --api that is not a URL as usage errors", async () => {
    await expect(
      rerun(options({ snapshot: "hiwari-snapshots/2011-12/subscriptions.csv" }), { credentials }),
    ).rejects.toThrow(
      new UsageError('--snapshot: must be s3://bucket/key (got "hiwari-snapshots/2011-12/subscriptions.csv")'),
    );
    await expect(
      rerun(options({ api: "abc123.execute-api.ap-northeast-1.amazonaws.com/prod" }), { credentials }),
    ).rejects.toThrow(
      /^--api: must be the API's URL with its stage, like https:\/\/abc123\.execute-api\.ap-northeast-1\.amazonaws\.com\/prod \(got "abc123/,
    );
    expect(seen).toHaveLength(0);
  });

  it("reports an API that cannot be reached in one line, exit 1", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await capture(() =>
      rerun(options({ api: `http://127.0.0.1:${port}/prod`, requestId: "req-c" }), { credentials }),
    );
    expect(r).toEqual({
      status: 1,
      stdout: "",
      stderr: `hiwari: no answer to POST http://127.0.0.1:${port}/prod/incidents/test-incident/runs: ECONNREFUSED${retry("req-c")}\n`,
    });
  });
});

describe("hiwari api-runs", () => {
  it("lists an incident's runs with counts and exact totals, signed GET under the stage", async () => {
    const r = await capture(() =>
      apiRuns({ api: `${api}/`, incidentId: "test-incident", region: REGION }, { credentials }),
    );
    expect(r).toEqual({
      status: 0,
      stderr: "",
      stdout:
        "2012-01-10T01:00:00.000Z  run-7  completed  by arn:aws:sts::123456789012:assumed-role/Finance/alice: window ended 14:00\n" +
        "    rows 1,234,567 = computed 1,234,000 + skipped 500 + rejected 67\n" +
        "    lines: new 1,200,000, adjusted 34,000, voided 12, unchanged 0\n" +
        "    IMADOKO      JPY   1,200,000 lines  98,765,432,109,876,543,210\n" +
        "    goodwill     JPY           3 lines             600\n" +
        "2012-01-11T01:00:00.000Z  run-8  failed (dry run)  by arn:aws:sts::123456789012:assumed-role/Finance/alice: preview\n" +
        "    error: snapshot s3://hiwari-snapshots/x.csv: NoSuchKey\n",
    });
    expect(seen.map((s) => [s.method, s.path, s.body])).toEqual([["GET", "/prod/incidents/test-incident/runs", ""]]);
    expect(seen[0]?.headers.authorization).toMatch(/SignedHeaders=host;x-amz-date, /);
  });

  it("says so when the incident has no runs, and prints JSON with --json", async () => {
    const none = await capture(() => apiRuns({ api, incidentId: "other", region: REGION }, { credentials }));
    expect(none).toEqual({ status: 0, stdout: `no runs of incident other at ${api}\n`, stderr: "" });
    const json = await capture(() =>
      apiRuns({ api, incidentId: "test-incident", region: REGION, json: true }, { credentials }),
    );
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(JSON.stringify([RECORD, FAILED])));
  });

  it("shows one run in detail with --run-id, and an unknown run as 404 (exit 2)", async () => {
    const one = await capture(() =>
      apiRuns({ api, incidentId: "test-incident", runId: "run-7", region: REGION }, { credentials }),
    );
    expect(one.status).toBe(0);
    expect(one.stdout).toBe(
      "2012-01-10T01:00:00.000Z  run-7  completed  by arn:aws:sts::123456789012:assumed-role/Finance/alice: window ended 14:00\n" +
        "    snapshot s3://hiwari-snapshots/2011-12/subscriptions.csv, batches of 1,000 rows\n" +
        "    policy calendar-day, day basis actual, rounding floor\n" +
        "    completed 2012-01-10T01:02:03.000Z\n" +
        "    rows 1,234,567 = computed 1,234,000 + skipped 500 + rejected 67\n" +
        "    lines: new 1,200,000, adjusted 34,000, voided 12, unchanged 0\n" +
        "    IMADOKO      JPY   1,200,000 lines  98,765,432,109,876,543,210\n" +
        "    goodwill     JPY           3 lines             600\n",
    );
    expect(seen[0]?.path).toBe("/prod/incidents/test-incident/runs/run-7");
    const missing = await capture(() =>
      apiRuns({ api, incidentId: "test-incident", runId: "run-99", region: REGION }, { credentials }),
    );
    expect(missing).toEqual({
      status: 2,
      stdout: "",
      stderr: "hiwari: the finance API answered HTTP 404: no run run-99 of incident test-incident\n",
    });
  });
});

describe("through the command line (bin/hiwari.ts)", () => {
  /** `hiwari` as users run it, with credentials and region from the environment (the SDK's default chain). */
  function hiwari(env: Record<string, string>, ...args: string[]) {
    const { AWS_PROFILE: _p, AWS_SESSION_TOKEN: _t, AWS_REGION: _r, AWS_DEFAULT_REGION: _d, ...base } = process.env;
    return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "bin/hiwari.ts", ...args],
        { encoding: "utf8", env: { ...base, ...env } },
        (error, stdout, stderr) => resolve({ status: error ? (error.code as number) : 0, stdout, stderr }),
      );
    });
  }
  const ENV = { AWS_ACCESS_KEY_ID: KEYS.accessKeyId, AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey, AWS_REGION: REGION };
  const ARGS = [
    "--incident",
    "INCIDENT",
    "--snapshot",
    "s3://hiwari-snapshots/2011-12/subscriptions.csv",
    "--reason",
    "cli",
  ];
  const args = (...extra: string[]) => [
    "rerun",
    "--api",
    api,
    ...ARGS.map((a) => (a === "INCIDENT" ? incidentFile : a)),
    ...extra,
  ];

  it("signs with the AWS credential chain and exits 0; 403 exits 1 and usage errors exit 2, without stack traces", async () => {
    // Five independent processes, run at once to keep the test short.
    const [ok, refused, noRegion, noSnapshot, runs] = await Promise.all([
      hiwari(ENV, ...args("--request-id", "cli-1")),
      hiwari({ ...ENV, AWS_SECRET_ACCESS_KEY: "wrong" }, ...args("--request-id", "cli-2")),
      hiwari({ ...ENV, AWS_REGION: "" }, ...args("--request-id", "cli-3")),
      hiwari(ENV, "rerun", "--api", api, "--incident", incidentFile, "--reason", "cli"),
      hiwari(ENV, "api-runs", "--api", api, "--incident-id", "test-incident", "--run-id", "run-99"),
    ]);
    expect(ok).toEqual({
      status: 0,
      stdout:
        "run run-1 of incident test-incident: started now (status running)\n" +
        `  follow it: hiwari api-runs --api ${api} --incident-id test-incident --run-id run-1\n`,
      stderr: "",
    });
    expect(refused).toMatchObject({
      status: 1,
      stderr: `hiwari: the finance API answered HTTP 403: ${MISMATCH}${HINT}\n`,
    });
    expect(noRegion).toMatchObject({
      status: 2,
      stderr:
        "hiwari: cannot tell the AWS region of 127.0.0.1:" +
        `${new URL(api).port} from its name: pass --region (or set AWS_REGION), e.g. --region ap-northeast-1\n`,
    });
    expect(noSnapshot).toMatchObject({
      status: 2,
      stderr: "hiwari: required option '--snapshot <s3-uri>' not specified\n",
    });
    expect(runs).toMatchObject({
      status: 2,
      stderr: "hiwari: the finance API answered HTTP 404: no run run-99 of incident test-incident\n",
    });
    expect(seen.map((s) => `${s.method} ${s.path}`).sort()).toEqual([
      "GET /prod/incidents/test-incident/runs/run-99",
      "POST /prod/incidents/test-incident/runs",
      "POST /prod/incidents/test-incident/runs",
    ]);
  });
});
