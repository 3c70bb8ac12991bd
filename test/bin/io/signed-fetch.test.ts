import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RequestFailedError, signedFetch, signingRegion } from "../../../bin/io/signed-fetch";
import { UsageError } from "../../../bin/usage-error";

// The transport alone: region, what is signed, and the failures that have no HTTP status. The signed conversation
// with a checking server is in test/bin/commands/rerun.test.ts.

const KEYS = { accessKeyId: "AKIDHIWARITEST", secretAccessKey: "hiwari/test/secret+key", sessionToken: "session-1" };
const credentials = async () => KEYS;

let server: Server;
let base: string;
let received: { req: IncomingMessage; body: string }[];
/** How the server answers: `hang` never does (for the timeout). */
let reply: { status: number; text: string; hang?: boolean };

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ req, body: Buffer.concat(chunks).toString("utf8") });
    if (!reply.hang) res.writeHead(reply.status).end(reply.text);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  received = [];
  reply = { status: 200, text: "{}" };
});

describe("signingRegion", () => {
  const url = new URL("https://abc123.execute-api.eu-west-1.amazonaws.com/prod");
  const custom = new URL("https://finance-api.example.co.jp/v1");

  it("takes --region first, then the execute-api host's region, then AWS_REGION, then AWS_DEFAULT_REGION", () => {
    expect(signingRegion(url, "ap-northeast-1", {})).toBe("ap-northeast-1");
    expect(signingRegion(url, undefined, { AWS_REGION: "us-east-1" })).toBe("eu-west-1");
    expect(signingRegion(custom, undefined, { AWS_REGION: "us-east-1", AWS_DEFAULT_REGION: "us-west-2" })).toBe(
      "us-east-1",
    );
    expect(signingRegion(custom, undefined, { AWS_REGION: "", AWS_DEFAULT_REGION: "us-west-2" })).toBe("us-west-2");
  });

  it("asks for --region when none can be found", () => {
    expect(() => signingRegion(custom, undefined, {})).toThrow(
      new UsageError(
        "cannot tell the AWS region of finance-api.example.co.jp from its name: pass --region (or set AWS_REGION), e.g. --region ap-northeast-1",
      ),
    );
  });
});

describe("signedFetch", () => {
  it("signs the path, the query, host, content-type, the body and the session token; returns status and JSON", async () => {
    reply = { status: 202, text: '{"runId":"run-1"}' };
    const url = new URL(`${base}/prod/incidents/i-1/runs?b=x%20y&a=1&a=2`);
    const body = '{"requestId":"r-1"}';
    const answer = await signedFetch({ method: "POST", url, body, region: "ap-northeast-1", credentials });
    expect(answer).toEqual({ status: 202, body: { runId: "run-1" } });

    const [{ req, body: sent }] = received as [{ req: IncomingMessage; body: string }];
    expect(sent).toBe(body);
    expect(req.url).toBe("/prod/incidents/i-1/runs?b=x%20y&a=1&a=2");
    expect(req.headers["x-amz-security-token"]).toBe("session-1");
    // The same request, described independently, signed at the same instant: the same Authorization.
    const date = String(req.headers["x-amz-date"]);
    const expected = await new SignatureV4({
      service: "execute-api",
      region: "ap-northeast-1",
      credentials: KEYS,
      sha256: Hash.bind(null, "sha256"),
      applyChecksum: false,
    }).sign(
      {
        method: "POST",
        protocol: "http:",
        hostname: "127.0.0.1",
        port: Number(new URL(base).port),
        path: "/prod/incidents/i-1/runs",
        query: { a: ["1", "2"], b: "x y" },
        headers: { host: new URL(base).host, "content-type": "application/json" },
        body,
      },
      { signingDate: new Date(date.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, "$1-$2-$3T$4:$5:$6Z")) },
    );
    expect(req.headers.authorization).toBe(expected.headers.authorization);
    expect(req.headers.authorization).toMatch(
      /SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
  });

  it("returns an answer that is not JSON as its text, whatever the status", async () => {
    reply = { status: 504, text: "<html>Gateway Timeout</html>" };
    expect(await signedFetch({ method: "GET", url: new URL(`${base}/x`), region: "eu-west-1", credentials })).toEqual({
      status: 504,
      body: "<html>Gateway Timeout</html>",
    });
  });

  it("gives up after the timeout with a RequestFailedError naming it", async () => {
    reply = { status: 200, text: "", hang: true };
    const url = new URL(`${base}/prod/slow`);
    await expect(signedFetch({ method: "GET", url, region: "eu-west-1", credentials, timeoutMs: 200 })).rejects.toThrow(
      new RequestFailedError(`no answer to GET ${base}/prod/slow: timed out after 0.2 s`),
    );
  });

  it("reports missing credentials without sending anything", async () => {
    const none = async () => {
      throw new Error("Could not load credentials from any providers");
    };
    await expect(
      signedFetch({ method: "GET", url: new URL(`${base}/x`), region: "eu-west-1", credentials: none }),
    ).rejects.toThrow(
      new RequestFailedError(
        "no AWS credentials to sign the request with (Could not load credentials from any providers); " +
          "set AWS_PROFILE (after `aws sso login`) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
      ),
    );
    expect(received).toHaveLength(0);
  });
});
