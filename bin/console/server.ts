import { randomBytes, randomUUID } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { PermanentError } from "../../shared/errors";
import {
  appliedDifferences,
  approverRefusal,
  type Proposal,
  previewStanding,
  type RefusalKind,
} from "../../shared/pipeline/proposal";
import { runIdOf, sha256 } from "../../shared/pipeline/run-context";
import { INCIDENT_FILE } from "../../shared/pipeline/run-steps";
import { standingOf } from "../../shared/pipeline/standing";
import type { RunRecord } from "../../shared/store/refund-store";
import { report } from "../commands/finance";
import { approveIn, fileSha256, proposePreview } from "../commands/proposals";
import { LOCAL_BATCH_SIZE, run } from "../commands/run";
import type { LocalEnvironment } from "../io/local-environment";
import { runFolder } from "../io/local-run-files";
import { InterruptedError, LocalStateError, UsageError } from "../usage-error";
import { type FieldProblem, leavesOf, NEW_INCIDENT, problemsOf, withFieldValues } from "./incident-form";
import { type Chrome, errorPage, formPage, type IncidentSummary, incidentPage, incidentsPage, runPage } from "./pages";
import { previewOf, rejectsOf } from "./run-files";

/**
 * `hiwari console`'s server: node:http, pages rendered here, every action through the code the CLI runs (run,
 * propose, approve, report) in the one environment the console holds (its DynamoDB Local under --state). Bound to
 * loopback; every POST carries the page's token and every request a loopback Host (no other site's page, and no
 * DNS rebinding, can drive it). One action at a time: a second waits for the first.
 */
export interface ConsoleOptions {
  state: string;
  /** The name the forms start with (the OS user). */
  by: string;
}

const PAGE_SIZE = 50;

/** The HTTP status of each kind of refusal, as the finance API answers them. */
const STATUS: Record<RefusalKind, number> = { invalid: 400, forbidden: 403, conflict: 409 };
const MAX_BODY = 2 << 20;

/** The charts' bundle, written by scripts/build.mjs (`npm ci`, `npm run build`): dist/ from this file or its chunk. */
const CHARTS = fileURLToPath(new URL("../../dist/console/charts.js", import.meta.url));

/** A request the console refuses (400, 404, 409): the status and the message it answers with. */
class HttpError extends PermanentError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export function consoleServer(env: LocalEnvironment, options: ConsoleOptions) {
  const chrome: Chrome = { token: randomBytes(16).toString("hex") };
  const { state } = options;
  let queue: Promise<unknown> = Promise.resolve();
  /** One action at a time, in the order asked. */
  const serially = <T>(action: () => Promise<T>): Promise<T> => {
    const next = queue.then(action, action);
    queue = next.catch(() => undefined);
    return next;
  };

  /** The incident as its latest run kept it (the document, and the run), if any run kept one that parses. */
  const latestKept = (runs: readonly RunRecord[]) => {
    for (const r of [...runs].sort((a, b) => b.startedAt.localeCompare(a.startedAt))) {
      const file = join(runFolder(state, r.runId), INCIDENT_FILE);
      if (!existsSync(file)) continue;
      try {
        return { document: JSON.parse(readFileSync(file, "utf8").replace(/^\uFEFF/, "")) as unknown, run: r };
      } catch {}
    }
    return undefined;
  };

  const titleOf = (runs: readonly RunRecord[]) => {
    const title = (latestKept(runs)?.document as { title?: unknown } | undefined)?.title;
    return typeof title === "string" ? title : undefined;
  };

  const runsOf = async (incidentId: string) => {
    const runs = await env.store.listRuns(incidentId);
    if (runs.length === 0) throw new HttpError(404, `no incident ${incidentId} in ${state}`);
    return runs;
  };

  const runOf = async (incidentId: string, runId: string) => {
    const runs = await runsOf(incidentId);
    const found = runs.find((r) => r.runId === runId);
    if (!found) throw new HttpError(404, `incident ${incidentId} has no run ${runId}`);
    return { runs, run: found };
  };

  async function incidents(): Promise<IncidentSummary[]> {
    const ids = await env.store.listIncidents();
    return Promise.all(
      ids.sort().map(async (incidentId) => {
        const runs = await env.store.listRuns(incidentId);
        const standing = standingOf(runs);
        const latest = [...runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt)).at(-1);
        const title = titleOf(runs);
        return {
          incidentId,
          totals: standing.totals,
          ...(title ? { title } : {}),
          ...(standing.asOf ? { asOf: standing.asOf } : {}),
          ...(latest ? { latest } : {}),
        };
      }),
    );
  }

  async function incident(incidentId: string, extra: { notice?: string; error?: string } = {}) {
    const runs = await runsOf(incidentId);
    const title = titleOf(runs);
    return incidentPage(
      {
        incidentId,
        ...(title ? { title } : {}),
        runs,
        proposals: await env.store.listProposals(incidentId),
        standing: standingOf(runs),
        by: options.by,
        ...extra,
      },
      chrome,
    );
  }

  async function runView(
    incidentId: string,
    runId: string,
    query: URLSearchParams,
    extra: { notice?: string; error?: string } = {},
  ) {
    const { runs, run: record } = await runOf(incidentId, runId);
    const pageOf = (name: string) => Math.max(0, Number.parseInt(query.get(name) ?? "0", 10) || 0);
    const title = titleOf(runs);
    let preview: Parameters<typeof runPage>[0]["preview"];
    if (record.dryRun && record.status === "completed") {
      const before = standingOf(runs.filter((r) => r.startedAt < record.startedAt));
      const proposals = await env.store.listProposals(incidentId);
      const proposal = proposals.find((p) => p.previewRunId === runId);
      const { later, firstRun } = previewStanding(runs, record);
      preview = {
        ...(await previewOf(state, runId, pageOf("page"), PAGE_SIZE)),
        before: before.totals,
        unsettled: before.unsettled,
        actions: later
          ? {
              propose: false,
              apply: false,
              why: `Run ${later.runId} started after this preview: it no longer says what applying it would do. Preview again.`,
            }
          : { propose: true, apply: firstRun },
        ...(proposal ? { proposal } : {}),
      };
    }
    return runPage(
      {
        run: record,
        ...(title ? { title } : {}),
        rejects: await rejectsOf(state, runId, pageOf("rejects"), PAGE_SIZE),
        ...(preview ? { preview } : {}),
        by: options.by,
        ...extra,
      },
      chrome,
    );
  }

  /** The form as a document shows it: fields, JSON, and the schema's problems once checked. */
  function form(
    document: unknown,
    run: { snapshot: string; reason: string; by: string },
    extra: { jsonText?: string; jsonError?: string; checked?: boolean; error?: string; problems?: FieldProblem[] } = {},
  ) {
    const text = JSON.stringify(document, null, 2);
    return formPage(
      {
        document,
        leaves: leavesOf(document),
        json: extra.jsonText ?? text,
        problems: extra.checked && !extra.jsonError ? (extra.problems ?? problemsOf(text)) : [],
        ...run,
        ...(extra.jsonError ? { jsonError: extra.jsonError } : {}),
        ...(extra.error ? { error: extra.error } : {}),
        ...(extra.checked ? { checked: true } : {}),
      },
      chrome,
    );
  }

  async function newForm(query: URLSearchParams) {
    const from = query.get("from");
    let document: unknown = NEW_INCIDENT;
    let snapshot = "";
    if (from) {
      const kept = latestKept(await runsOf(from));
      if (kept)
        ({
          document,
          run: { snapshotName: snapshot },
        } = kept);
    }
    return form(document, { snapshot, reason: "", by: options.by });
  }

  /** POST /new: check the fields or the JSON, or preview the incident (a dry run) and show the preview. */
  async function postNew(body: URLSearchParams, res: ServerResponse) {
    const common = {
      snapshot: body.get("snapshot")?.trim() ?? "",
      reason: body.get("reason") ?? "",
      by: body.get("by") ?? "",
    };
    const intent = body.get("intent");
    if (intent === "json") {
      const text = body.get("json") ?? "";
      let document: unknown;
      try {
        document = JSON.parse(text.replace(/^\uFEFF/, ""));
      } catch (e) {
        return send(
          res,
          400,
          form(NEW_INCIDENT, common, {
            jsonText: text,
            jsonError: `not valid JSON: ${(e as Error).message}`,
            checked: true,
          }),
        );
      }
      return send(res, 200, form(document, common, { checked: true }));
    }
    let base: unknown;
    try {
      base = JSON.parse(body.get("document") ?? "");
    } catch {
      throw new HttpError(400, "the form lost its document: start again from the incident page");
    }
    const fields = new Map<string, string>();
    for (const [k, v] of body) if (k.startsWith("f:")) fields.set(k.slice(2), v);
    const document = withFieldValues(base, fields);
    const text = JSON.stringify(document, null, 2);
    const problems = problemsOf(text);
    if (intent !== "preview" || problems.length > 0)
      return send(res, problems.length > 0 ? 400 : 200, form(document, common, { checked: true, problems }));
    const missing = [
      common.snapshot === "" ? "the snapshot's path" : "",
      common.reason.trim() === "" ? "a reason" : "",
      common.by.trim() === "" ? "your name" : "",
    ].filter(Boolean);
    if (missing.length > 0)
      return send(
        res,
        400,
        form(document, common, { checked: true, problems, error: `A preview needs ${missing.join(", ")}.` }),
      );
    const snapshot = resolve(common.snapshot);
    if (!existsSync(snapshot) || !statSync(snapshot).isFile())
      return send(
        res,
        400,
        form(document, common, {
          checked: true,
          problems,
          error: `The snapshot ${snapshot} is not a file on this machine.`,
        }),
      );
    const folder = join(state, "console", "incidents");
    mkdirSync(folder, { recursive: true });
    const file = join(folder, `${sha256(text).slice(0, 16)}.json`);
    writeFileSync(file, text);
    const requestId = randomUUID();
    const incidentId = (document as { incidentId: string }).incidentId;
    try {
      await serially(() =>
        run(
          {
            incident: file,
            subscriptions: snapshot,
            state,
            reason: common.reason,
            by: common.by.trim(),
            dryRun: true,
            batchSize: String(LOCAL_BATCH_SIZE),
            requestId,
          },
          env,
        ),
      );
    } catch (e) {
      if (e instanceof UsageError)
        return send(res, 400, form(document, common, { checked: true, problems, error: e.message }));
      throw e;
    }
    return redirect(res, `/incidents/${encodeURIComponent(incidentId)}/runs/${runIdOf(incidentId, requestId)}`);
  }

  async function propose(incidentId: string, runId: string, body: URLSearchParams, res: ServerResponse) {
    const [by, reason] = [body.get("by") ?? "", body.get("reason") ?? ""];
    const refuse = async (status: number, error: string) =>
      send(res, status, await runView(incidentId, runId, new URLSearchParams(), { error }));
    if (by.trim() === "" || reason.trim() === "")
      return refuse(400, "A proposal needs its proposer's name and a reason.");
    let proposal: Proposal;
    try {
      proposal = await serially(() => proposePreview(env, state, incidentId, runId, by, reason));
    } catch (e) {
      if (e instanceof UsageError) return refuse(409, e.message);
      throw e;
    }
    return redirect(res, `/incidents/${encodeURIComponent(incidentId)}?proposed=${proposal.proposalId}`);
  }

  /**
   * The first run of an incident, applied from its preview: the same incident file and snapshot bytes, checked
   * before, and after (the run's own digests, counts and totals must be the preview's, as an approval's must).
   */
  async function applyFirst(incidentId: string, runId: string, body: URLSearchParams, res: ServerResponse) {
    const by = (body.get("by") ?? "").trim();
    const requestId = randomUUID();
    const appliedId = runIdOf(incidentId, requestId);
    await serially(async () => {
      const { runs, run: preview } = await runOf(incidentId, runId);
      if (!preview.dryRun || preview.status !== "completed")
        throw new HttpError(409, `run ${runId} is not a completed preview`);
      const { later, firstRun } = previewStanding(runs, preview);
      if (later || !firstRun)
        throw new HttpError(
          409,
          `incident ${incidentId} has been run before: a rerun is proposed, and applied by another person's approval`,
        );
      if (by === "") throw new HttpError(400, "applying a run needs your name");
      if (!existsSync(preview.snapshotName) || (await fileSha256(preview.snapshotName)) !== preview.snapshotDigest)
        throw new HttpError(409, `the snapshot ${preview.snapshotName} is not the one previewed: preview again`);
      await run(
        {
          incident: join(runFolder(state, runId), INCIDENT_FILE),
          subscriptions: preview.snapshotName,
          state,
          reason: preview.reason,
          by,
          batchSize: String(preview.batchSize),
          requestId,
        },
        env,
      );
      // Money moved: it must be what the preview said, or the page says loudly that it is not.
      const applied = (await env.store.getRun(incidentId, appliedId)) as RunRecord;
      const differences = appliedDifferences(preview as Proposal & RunRecord, applied);
      if (differences.length > 0)
        throw new HttpError(
          500,
          `run ${appliedId} applied preview ${runId} but did not reproduce it: ${differences.join("; ")}. ` +
            "Its changes are stored; review them in the report and correct with a proposal",
        );
    });
    return redirect(res, `/incidents/${encodeURIComponent(incidentId)}/runs/${appliedId}?applied=1`);
  }

  async function approve(incidentId: string, proposalId: string, body: URLSearchParams, res: ServerResponse) {
    const by = body.get("by") ?? "";
    const proposal = await env.store.getProposal(incidentId, proposalId);
    if (!proposal) throw new HttpError(404, `incident ${incidentId} has no proposal ${proposalId}`);
    const refused = approverRefusal(proposal, by);
    if (refused) return send(res, STATUS[refused.kind], await incident(incidentId, { error: refused.message }));
    try {
      const applied = await serially(() => approveIn(env, { incidentId, proposal: proposalId, by, state }));
      return redirect(
        res,
        `/incidents/${encodeURIComponent(incidentId)}/runs/${applied.appliedRunId}?approved=${applied.proposalId}`,
      );
    } catch (e) {
      if (e instanceof UsageError) return send(res, 409, await incident(incidentId, { error: e.message }));
      if (e instanceof LocalStateError || e instanceof InterruptedError)
        return send(res, 500, await incident(incidentId, { error: e.message }));
      throw e;
    }
  }

  async function download(incidentId: string, res: ServerResponse) {
    await runsOf(incidentId);
    const folder = join(state, "console", "reports");
    mkdirSync(folder, { recursive: true });
    const file = join(folder, `${randomUUID()}.csv`);
    try {
      // The same report as `hiwari report --out`, read through this console's DynamoDB Local.
      await report({ incidentId, state, out: file });
      res.writeHead(200, {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="${incidentId}-report.csv"`,
      });
      // pipeline: a reader that goes away, or a read that fails, ends both (and the file is removed below).
      await pipeline(createReadStream(file), res);
    } finally {
      rmSync(file, { force: true });
    }
  }

  const routes: [
    string,
    RegExp,
    (m: string[], q: URLSearchParams, body: URLSearchParams, res: ServerResponse) => Promise<void>,
  ][] = [
    ["GET", /^\/$/, async (_m, _q, _b, res) => send(res, 200, incidentsPage(await incidents(), chrome))],
    ["GET", /^\/new$/, async (_m, q, _b, res) => send(res, 200, await newForm(q))],
    ["POST", /^\/new$/, async (_m, _q, b, res) => postNew(b, res)],
    [
      "GET",
      /^\/incidents\/([^/]+)$/,
      async ([id], q, _b, res) => {
        const proposed = q.get("proposed");
        send(
          res,
          200,
          await incident(
            id as string,
            proposed ? { notice: `Proposal ${proposed} recorded: another person approves it below.` } : {},
          ),
        );
      },
    ],
    ["GET", /^\/incidents\/([^/]+)\/report\.csv$/, async ([id], _q, _b, res) => download(id as string, res)],
    [
      "GET",
      /^\/incidents\/([^/]+)\/runs\/([^/]+)$/,
      async ([id, runId], q, _b, res) => {
        const approved = q.get("approved");
        const notice = approved
          ? `Proposal ${approved} approved and applied: the run reproduced its counts and totals.`
          : q.get("applied")
            ? "Applied."
            : undefined;
        send(res, 200, await runView(id as string, runId as string, q, notice ? { notice } : {}));
      },
    ],
    [
      "POST",
      /^\/incidents\/([^/]+)\/runs\/([^/]+)\/propose$/,
      async ([id, runId], _q, b, res) => propose(id as string, runId as string, b, res),
    ],
    [
      "POST",
      /^\/incidents\/([^/]+)\/runs\/([^/]+)\/apply$/,
      async ([id, runId], _q, b, res) => applyFirst(id as string, runId as string, b, res),
    ],
    [
      "POST",
      /^\/incidents\/([^/]+)\/proposals\/([^/]+)\/approve$/,
      async ([id, proposalId], _q, b, res) => approve(id as string, proposalId as string, b, res),
    ],
    [
      "GET",
      /^\/static\/charts\.js$/,
      async (_m, _q, _b, res) => {
        if (!existsSync(CHARTS)) throw new HttpError(404, `${CHARTS} is missing: run npm run build`);
        res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "max-age=3600" });
        await pipeline(createReadStream(CHARTS), res);
      },
    ],
  ];

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const port = (server.address() as AddressInfo | null)?.port;
    const host = req.headers.host ?? "";
    if (![`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(host))
      throw new HttpError(421, `this console answers on 127.0.0.1:${port} only (asked for ${host})`);
    const url = new URL(req.url ?? "/", `http://${host}`);
    const body = req.method === "POST" ? await formBody(req) : new URLSearchParams();
    if (req.method === "POST" && body.get("token") !== chrome.token)
      throw new HttpError(403, "the form's token is not this console's: reload the page and try again");
    for (const [method, pattern, action] of routes) {
      const match = pattern.exec(url.pathname);
      if (!match || method !== req.method) continue;
      let parts: string[];
      try {
        parts = match.slice(1).map(decodeURIComponent);
      } catch {
        throw new HttpError(400, `${url.pathname} is not a valid address (a broken % escape)`);
      }
      await action(parts, url.searchParams, body, res);
      return;
    }
    throw new HttpError(404, `no page ${url.pathname}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : e instanceof UsageError ? 400 : 500;
      if (status === 500) process.stderr.write(`hiwari console: ${(e as Error).stack ?? e}\n`);
      if (res.headersSent) res.destroy(e as Error);
      else send(res, status, errorPage(status, (e as Error).message, chrome));
    });
  });
  return {
    server,
    /** Starts listening; the URL to open. */
    listen: (port: number, host: string) =>
      new Promise<string>((done, fail) => {
        server.once("error", fail);
        server.listen(port, host, () =>
          done(`http://${host.includes(":") ? `[${host}]` : host}:${(server.address() as AddressInfo).port}/`),
        );
      }),
    /** Stops taking requests, and waits for the action under way. */
    close: async () => {
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeIdleConnections();
      await queue;
      server.closeAllConnections();
      await closed;
    },
  };
}

function send(res: ServerResponse, status: number, page: string): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
  res.end(page);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location });
  res.end();
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, "the form is larger than 2 MiB");
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
