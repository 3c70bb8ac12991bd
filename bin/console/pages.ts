import { formatMinor } from "../../shared/money/currency";
import type { Proposal } from "../../shared/pipeline/proposal";
import type { RecordedCounts, RunRecord, TotalLine } from "../../shared/store/refund-store";
import { n } from "../format";
import type { Distribution } from "./histogram";
import { type Html, html, jsonScript, raw } from "./html";
import type { FieldProblem, Leaf } from "./incident-form";
import { fieldOf } from "./incident-form";
import type { Page, PreviewChange } from "./run-files";
import { perCurrency } from "./run-files";

/**
 * The console's pages, rendered on the server as plain HTML forms and tables (they work without script, with the
 * keyboard, and read well to a screen reader); the charts are drawn by a small script over data in the page.
 */

const STYLE = `
:root { font-family: "Noto Sans CJK JP", "Noto Sans JP", system-ui, sans-serif; color: #1b1b1b; background: #fff; }
body { margin: 0; line-height: 1.5; }
header { background: #12355b; color: #fff; padding: .5rem 1.5rem; display: flex; gap: 2rem; align-items: center; }
header a { color: #fff; }
header .brand { font-weight: 700; font-size: 1.2rem; }
main { padding: 1rem 1.5rem 3rem; max-width: 80rem; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: #fff; color: #12355b; padding: .5rem; }
a { color: #0b4f9c; } a:focus, button:focus, input:focus, textarea:focus, select:focus, summary:focus { outline: 3px solid #c45500; outline-offset: 2px; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
th, td { border: 1px solid #b8c2cc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.notice { border-left: 6px solid #1f7a3a; background: #e8f5ec; padding: .6rem 1rem; }
.error { border-left: 6px solid #b3261e; background: #fdecea; padding: .6rem 1rem; }
.warn { border-left: 6px solid #8a5a00; background: #fff4de; padding: .6rem 1rem; }
.field-error { color: #b3261e; font-weight: 600; margin: .1rem 0 0; }
.cols { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 2rem; }
label { display: block; font-weight: 600; margin-top: .6rem; }
input[type=text] { width: 100%; max-width: 36rem; padding: .3rem; font: inherit; border: 1px solid #5c6b7a; }
input[aria-invalid=true] { border: 2px solid #b3261e; }
textarea { width: 100%; min-height: 28rem; font-family: ui-monospace, monospace; font-size: .85rem; border: 1px solid #5c6b7a; }
fieldset { border: 1px solid #b8c2cc; margin: .8rem 0; }
button { font: inherit; padding: .4rem 1rem; margin: .8rem .6rem 0 0; background: #12355b; color: #fff; border: 0; cursor: pointer; }
button.secondary { background: #fff; color: #12355b; border: 2px solid #12355b; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr)); gap: 1.5rem; }
figure { margin: 0; } figcaption { font-weight: 600; }
.chart-box { position: relative; height: 18rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; } dl.meta dt { font-weight: 600; }
nav.pager a, nav.pager span { margin-right: 1rem; }
`;

export interface Chrome {
  /** The form token every POST must carry (a page of another site cannot post to the console). */
  token: string;
}

export function layout(title: string, body: Html, chrome: Chrome, scripts: Html | string = ""): string {
  return `<!doctype html>${html`<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · hiwari console</title><style>${raw(STYLE)}</style></head>
<body><a class="skip" href="#main">Skip to the content</a>
<header><span class="brand">hiwari 日割り</span><nav aria-label="Main"><a href="/">Incidents</a> · <a href="/new">New incident or rerun</a></nav></header>
<main id="main" data-token="${chrome.token}">${body}</main>${scripts}</body></html>`}`;
}

const hidden = (chrome: Chrome) => html`<input type="hidden" name="token" value="${chrome.token}">`;

const money = (amount: bigint | string, currency: string) => formatMinor(amount, currency);

const service = (s: string | null) => s ?? "goodwill";

const incidentLink = (id: string) => html`<a href="/incidents/${encodeURIComponent(id)}">${id}</a>`;

const runLink = (r: { incidentId: string; runId: string }) =>
  html`<a href="/incidents/${encodeURIComponent(r.incidentId)}/runs/${r.runId}">${r.runId}</a>`;

function totalsTable(caption: string, totals: readonly TotalLine[]): Html {
  if (totals.length === 0) return html`<p>${caption}: nothing.</p>`;
  return html`<table><caption>${caption}</caption>
<thead><tr><th scope="col">Service</th><th scope="col">Currency</th><th scope="col" class="num">Lines</th><th scope="col" class="num">Owed</th></tr></thead>
<tbody>${totals.map(
    (t) =>
      html`<tr><th scope="row">${service(t.serviceCode)}</th><td>${t.currency}</td><td class="num">${n(t.lines)}</td><td class="num">${money(t.amount, t.currency)}</td></tr>`,
  )}</tbody></table>`;
}

const accounting = (c: RecordedCounts | undefined) =>
  c ? `${n(c.rows)} = ${n(c.computed)} computed + ${n(c.skipped)} skipped + ${n(c.rejected)} rejected` : "—";

const changes = (c: RecordedCounts | undefined) =>
  c ? `new ${n(c.calculated)}, adjusted ${n(c.adjusted)}, voided ${n(c.voided)}, unchanged ${n(c.unchanged)}` : "—";

const message = (notice?: string, error?: string) =>
  html`${notice ? html`<p class="notice" role="status">${notice}</p>` : ""}${error ? html`<p class="error" role="alert">${error}</p>` : ""}`;

export interface IncidentSummary {
  incidentId: string;
  title?: string;
  totals: TotalLine[];
  asOf?: RunRecord;
  latest?: RunRecord;
}

export function incidentsPage(incidents: readonly IncidentSummary[], chrome: Chrome): string {
  const body = html`<h1>Incidents</h1>
${
  incidents.length === 0
    ? html`<p>No incident has been run in this state folder yet. <a href="/new">Start one</a>.</p>`
    : html`<table><caption>Every incident of this state folder, with what it owes as its last completed run left it</caption>
<thead><tr><th scope="col">Incident</th><th scope="col">Title</th><th scope="col" class="num">Owed (standing)</th><th scope="col">Last run</th></tr></thead>
<tbody>${incidents.map(
        (i) => html`<tr><th scope="row">${incidentLink(i.incidentId)}</th><td>${i.title ?? ""}</td>
<td class="num">${perCurrency(i.totals).map((t) => html`<div>${money(t.amount, t.currency)}</div>`)}${i.totals.length === 0 ? "—" : ""}</td>
<td>${i.latest ? html`${i.latest.startedAt} ${i.latest.status}${i.latest.dryRun ? " (preview)" : ""}` : "—"}</td></tr>`,
      )}</tbody></table>`
}`;
  return layout("Incidents", body, chrome);
}

export interface IncidentPageData {
  incidentId: string;
  title?: string;
  runs: RunRecord[];
  proposals: Proposal[];
  standing: { totals: TotalLine[]; asOf?: RunRecord; unsettled: RunRecord[] };
  by: string;
  notice?: string;
  error?: string;
}

export function incidentPage(d: IncidentPageData, chrome: Chrome): string {
  const id = encodeURIComponent(d.incidentId);
  const runs = [...d.runs].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const body = html`<h1>Incident ${d.incidentId}</h1>
${d.title ? html`<p class="title">${d.title}</p>` : ""}
${message(d.notice, d.error)}
<p><a href="/incidents/${id}/report.csv" download>Download the report (CSV, the standing lines)</a> · <a href="/new?from=${id}">Rerun with a corrected incident</a></p>
<h2>Owed now</h2>
${d.standing.asOf ? html`<p>As run ${runLink(d.standing.asOf)} left it (${d.standing.asOf.completedAt ?? ""}).</p>` : html`<p>No run of this incident has completed.</p>`}
${d.standing.unsettled.map((u) => html`<p class="warn">Run ${runLink(u)} started later and is ${u.status}: what it stored stands without totals. The report has the exact lines.</p>`)}
${totalsTable("Standing totals per service and currency", d.standing.totals)}
<h2>Proposals</h2>
${d.proposals.length === 0 ? html`<p>No proposal yet. A rerun is previewed, then proposed, then approved by another person.</p>` : proposalsTable(d, chrome)}
<h2>Runs</h2>
<table><caption>Every run and preview of ${d.incidentId}, newest first</caption>
<thead><tr><th scope="col">Started</th><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Who</th><th scope="col">Why</th><th scope="col">Rows</th><th scope="col">Owed after it</th></tr></thead>
<tbody>${runs.map(
    (
      r,
    ) => html`<tr><td>${r.startedAt}</td><td>${runLink(r)}</td><td>${r.status}${r.dryRun ? " (preview)" : ""}</td><td>${r.requestedBy}</td><td>${r.reason}</td>
<td>${accounting(r.counts)}</td><td class="num">${(r.totals ?? []).map((t) => html`<div>${service(t.serviceCode)}: ${money(t.amount, t.currency)}</div>`)}</td></tr>`,
  )}</tbody></table>`;
  return layout(`Incident ${d.incidentId}`, body, chrome);
}

function proposalsTable(d: IncidentPageData, chrome: Chrome): Html {
  const id = encodeURIComponent(d.incidentId);
  return html`<table><caption>Proposals of ${d.incidentId}, newest first</caption>
<thead><tr><th scope="col">Proposal</th><th scope="col">State</th><th scope="col">Proposed</th><th scope="col">Preview</th><th scope="col">Changes</th><th scope="col">Approval</th></tr></thead>
<tbody>${[...d.proposals]
    .sort((a, b) => b.proposedAt.localeCompare(a.proposedAt))
    .map(
      (
        p,
      ) => html`<tr><th scope="row">${p.proposalId}</th><td>${p.state}${p.failure ? html`<div class="field-error">${p.failure}</div>` : ""}</td>
<td>${p.proposedBy}, ${p.proposedAt}: ${p.reason}</td><td>${runLink({ incidentId: p.incidentId, runId: p.previewRunId })}</td><td>${changes(p.counts)}</td>
<td>${
        p.state === "open" || (p.state === "approved" && !p.appliedRunId)
          ? html`<form method="post" action="/incidents/${id}/proposals/${p.proposalId}/approve">${hidden(chrome)}
${p.state === "approved" ? html`<p>Approved by ${p.approvedBy} at ${p.approvedAt}; its run stopped before it ended. Its approver resumes it.</p>` : ""}
<label for="by-${p.proposalId}">${p.state === "approved" ? "Approver" : `Approver (not ${p.proposedBy})`}</label><input type="text" id="by-${p.proposalId}" name="by" value="${p.state === "approved" ? (p.approvedBy ?? "") : d.by}" autocomplete="name">
<button type="submit">${p.state === "approved" ? "Resume" : "Approve and apply"} ${p.proposalId}</button></form>`
          : html`${p.approvedBy ? html`approved by ${p.approvedBy} at ${p.approvedAt}` : ""}${p.appliedRunId ? html`<div>applied by ${runLink({ incidentId: p.incidentId, runId: p.appliedRunId })}</div>` : ""}`
      }</td></tr>`,
    )}</tbody></table>`;
}

export interface RunPageData {
  run: RunRecord;
  title?: string;
  rejects: Page<{ line: number; subscriptionId: string | null; field: string | null; reason: string }>;
  preview?: {
    changes: Page<PreviewChange>;
    deltas: Distribution[];
    before: TotalLine[];
    /** Writing runs before the preview that did not complete: "now" is as the last completed one left it. */
    unsettled: RunRecord[];
    /** What the preview's page may do: propose it (a rerun), apply it (a first run), or nothing (stale, proposed). */
    actions: { propose: boolean; apply: boolean; why?: string };
    proposal?: Proposal;
  };
  by: string;
  notice?: string;
  error?: string;
}

/** Before and after per service and currency, whichever side has it. */
export function beforeAfter(before: readonly TotalLine[], after: readonly TotalLine[]) {
  const key = (t: TotalLine) => `${service(t.serviceCode)} ${t.currency}`;
  const rows = new Map<string, { service: string; currency: string; before: string; after: string }>();
  for (const t of before)
    rows.set(key(t), { service: service(t.serviceCode), currency: t.currency, before: t.amount, after: "0" });
  for (const t of after) {
    const row = rows.get(key(t)) ?? { service: service(t.serviceCode), currency: t.currency, before: "0", after: "0" };
    rows.set(key(t), { ...row, after: t.amount });
  }
  return [...rows.values()].sort((a, b) => `${a.service} ${a.currency}`.localeCompare(`${b.service} ${b.currency}`));
}

function pager(base: string, page: Page<unknown>, param: string): Html {
  const pages = Math.max(1, Math.ceil(page.total / page.pageSize));
  if (pages <= 1) return html``;
  return html`<nav class="pager" aria-label="Pages of ${param}">${page.page > 0 ? html`<a href="${base}?${param}=${page.page - 1}">Previous page</a>` : ""}
<span>page ${page.page + 1} of ${pages}</span>${page.page + 1 < pages ? html`<a href="${base}?${param}=${page.page + 1}">Next page</a>` : ""}</nav>`;
}

export function runPage(d: RunPageData, chrome: Chrome): string {
  const r = d.run;
  const base = `/incidents/${encodeURIComponent(r.incidentId)}/runs/${r.runId}`;
  const preview = d.preview;
  const body = html`<h1>${r.dryRun ? "Preview" : "Run"} ${r.runId}</h1>
<p>Incident ${incidentLink(r.incidentId)}${d.title ? html`: <span class="title">${d.title}</span>` : ""}</p>
${message(d.notice, d.error)}
<dl class="meta">
<dt>Status</dt><dd>${r.status}${r.dryRun ? " (a preview: a dry run, nothing written)" : ""}</dd>
<dt>Who</dt><dd>${r.requestedBy}</dd><dt>Why</dt><dd>${r.reason}</dd>
<dt>Started</dt><dd>${r.startedAt}</dd>${r.completedAt ? html`<dt>Completed</dt><dd>${r.completedAt}</dd>` : ""}
<dt>Snapshot</dt><dd>${r.snapshotName}</dd>
<dt>Policy</dt><dd>${r.policy.rule}, day basis ${String(r.policy.dayBasis)}, rounding ${r.policy.rounding}</dd>
<dt>Rows</dt><dd>${accounting(r.counts)}</dd>
<dt>Lines</dt><dd>${changes(r.counts)}</dd>
${r.error ? html`<dt>Error</dt><dd class="field-error">${r.error}</dd>` : ""}
</dl>
${preview ? previewSection(d, preview, base, chrome) : totalsTable("Owed after this run, per service and currency", r.totals ?? [])}
<h2>Rejected rows</h2>
${
  d.rejects.total === 0
    ? html`<p>None.</p>`
    : html`<table><caption>${n(d.rejects.total)} rows of the snapshot were rejected (each names its line and field)</caption>
<thead><tr><th scope="col" class="num">Line</th><th scope="col">Subscription</th><th scope="col">Field</th><th scope="col">Why</th></tr></thead>
<tbody>${d.rejects.items.map((x) => html`<tr><td class="num">${x.line}</td><td>${x.subscriptionId ?? ""}</td><td>${x.field ?? ""}</td><td>${x.reason}</td></tr>`)}</tbody></table>
${pager(base, d.rejects, "rejects")}`
}`;
  return layout(
    `${r.dryRun ? "Preview" : "Run"} ${r.runId}`,
    body,
    chrome,
    preview ? html`<script src="/static/charts.js" defer></script>` : "",
  );
}

function previewSection(d: RunPageData, p: NonNullable<RunPageData["preview"]>, base: string, chrome: Chrome): Html {
  const r = d.run;
  const c = r.counts;
  const rows = beforeAfter(p.before, r.totals ?? []);
  const data = {
    counts: c ? { calculated: c.calculated, adjusted: c.adjusted, voided: c.voided, unchanged: c.unchanged } : null,
    deltas: p.deltas,
    totals: rows,
  };
  return html`<h2>What applying it would do</h2>
${p.unsettled.map((u) => html`<p class="warn">Run ${runLink(u)} before this preview is ${u.status}: "now" is what the last completed run left, and what that run stored may differ (the report has the exact lines).</p>`)}
<table><caption>Lines it would change</caption><thead><tr><th scope="col" class="num">New</th><th scope="col" class="num">Adjusted</th><th scope="col" class="num">Voided</th><th scope="col" class="num">Unchanged</th></tr></thead>
<tbody><tr><td class="num">${n(c?.calculated ?? 0)}</td><td class="num">${n(c?.adjusted ?? 0)}</td><td class="num">${n(c?.voided ?? 0)}</td><td class="num">${n(c?.unchanged ?? 0)}</td></tr></tbody></table>
<table><caption>Owed per service and currency: now, and after applying it</caption>
<thead><tr><th scope="col">Service</th><th scope="col">Currency</th><th scope="col" class="num">Now</th><th scope="col" class="num">After</th><th scope="col" class="num">Change</th></tr></thead>
<tbody>${rows.map(
    (t) =>
      html`<tr><th scope="row">${t.service}</th><td>${t.currency}</td><td class="num">${money(t.before, t.currency)}</td><td class="num">${money(t.after, t.currency)}</td><td class="num">${money(BigInt(t.after) - BigInt(t.before), t.currency)}</td></tr>`,
  )}</tbody></table>
<div class="charts">
${p.deltas.map(
  (
    dist,
  ) => html`<figure><figcaption id="deltas-caption-${dist.currency}">How many lines move by how much (${dist.currency}, in minor units)</figcaption>
<div class="chart-box"><canvas id="chart-deltas-${dist.currency}" role="img" aria-labelledby="deltas-caption-${dist.currency}"></canvas></div>
<details><summary>The numbers of this chart</summary><table><caption>Lines per delta (${dist.currency})</caption><thead><tr><th scope="col">Delta</th><th scope="col" class="num">Lines</th></tr></thead>
<tbody>${dist.buckets.map((b) => html`<tr><td>${b.from === b.to ? money(b.from, dist.currency) : `${money(b.from, dist.currency)} to ${money(b.to, dist.currency)}`}</td><td class="num">${n(b.count)}</td></tr>`)}</tbody></table></details></figure>`,
)}
<figure><figcaption id="totals-caption">Owed per service: now and after</figcaption>
<div class="chart-box"><canvas id="chart-totals" role="img" aria-labelledby="totals-caption"></canvas></div></figure>
</div>
${jsonScript("preview-data", data)}
<h2>The lines it would change</h2>
${
  p.changes.total === 0
    ? html`<p>None: applying it would change nothing.</p>`
    : html`<table><caption>${n(p.changes.total)} changes, ${p.changes.pageSize} a page</caption>
<thead><tr><th scope="col">Change</th><th scope="col">Subscriber</th><th scope="col">Subscription</th><th scope="col">Service</th><th scope="col" class="num">Before</th><th scope="col" class="num">After</th><th scope="col" class="num">Delta</th></tr></thead>
<tbody>${p.changes.items.map(
        (x) =>
          html`<tr><td>${x.change}</td><td>${x.line.subscriberId}</td><td>${x.line.subscriptionId ?? ""}</td><td>${service(x.line.serviceCode)}</td>
<td class="num">${money(x.previousAmount, x.line.currency)}</td><td class="num">${money(BigInt(x.previousAmount) + BigInt(x.delta), x.line.currency)}</td><td class="num">${money(x.delta, x.line.currency)}</td></tr>`,
      )}</tbody></table>${pager(base, p.changes, "page")}`
}
${previewActions(d, p, base, chrome)}`;
}

function previewActions(d: RunPageData, p: NonNullable<RunPageData["preview"]>, base: string, chrome: Chrome): Html {
  if (p.proposal)
    return html`<p>Proposed as ${p.proposal.proposalId} (${p.proposal.state}): see the <a href="/incidents/${encodeURIComponent(d.run.incidentId)}">incident</a>.</p>`;
  if (p.actions.why) return html`<p class="warn">${p.actions.why}</p>`;
  return html`<h2>Next</h2>
${
  p.actions.propose
    ? html`<form method="post" action="${base}/propose">${hidden(chrome)}
<p>Propose it: another person then approves and applies it, if nothing it stands on has changed, and the run must reproduce these counts and totals.</p>
<label for="propose-by">Proposer</label><input type="text" id="propose-by" name="by" value="${d.by}" autocomplete="name">
<label for="propose-reason">Reason</label><input type="text" id="propose-reason" name="reason" value="${d.run.reason}">
<button type="submit">Propose</button></form>`
    : ""
}${
  p.actions.apply
    ? html`<form method="post" action="${base}/apply">${hidden(chrome)}
<p>The incident's first run: apply it now (a rerun, later, needs a proposal and another person's approval).</p>
<label for="apply-by">Applied by</label><input type="text" id="apply-by" name="by" value="${d.by}" autocomplete="name">
<button type="submit">Apply this first run</button></form>`
    : ""
}`;
}

export interface FormPageData {
  /** The document the fields show. */
  document: unknown;
  leaves: Leaf[];
  /** The JSON beside the fields (as typed, when it did not parse). */
  json: string;
  jsonError?: string;
  problems: FieldProblem[];
  snapshot: string;
  reason: string;
  by: string;
  /** The problems of the snapshot path, reason or name, or of the run. */
  error?: string;
  checked?: boolean;
}

export function formPage(d: FormPageData, chrome: Chrome): string {
  // Each problem at its field; one no field is under is in the list above the form only.
  const at = new Map<string, FieldProblem[]>();
  for (const p of d.problems) {
    const field = fieldOf(p, d.leaves);
    if (field) at.set(field, [...(at.get(field) ?? []), p]);
  }
  // Fields are numbered: ids made from paths could collide (keys of any script), numbers cannot.
  const ids = new Map(d.leaves.map((leaf, i) => [leaf.path, `f-${i}`]));
  const fieldId = (path: string) => ids.get(path) as string;
  const field = (leaf: Leaf) => {
    const id = fieldId(leaf.path);
    const problems = at.get(leaf.path) ?? [];
    return html`<label for="${id}">${leaf.path}</label>
<input type="text" id="${id}" name="f:${leaf.path}" value="${leaf.value === null ? "" : String(leaf.value)}"${problems.length > 0 ? html` aria-invalid="true" aria-describedby="${id}-error"` : ""}>
${problems.length > 0 ? html`<p class="field-error" id="${id}-error">${problems.map((p) => `${p.path}: ${p.message}`).join("; ")}</p>` : ""}`;
  };
  const groups = new Map<string, Leaf[]>();
  for (const leaf of d.leaves) {
    // A window a fieldset, policy and goodwill one each; the incident's own values (id, title, zone) together.
    const top = leaf.path.split(/[.[]/)[0] ?? leaf.path;
    const group = /^suspensions\[\d+\]/.exec(leaf.path)?.[0] ?? (top === leaf.path ? "incident" : top);
    groups.set(group, [...(groups.get(group) ?? []), leaf]);
  }
  const body = html`<h1>A new run or a rerun</h1>
<p>Each value of the incident is a field named by its path in the contract; the JSON beside it is the same incident (add a window or a goodwill there). Checked by the same schema as <code>hiwari run</code>.</p>
${
  d.problems.length > 0
    ? html`<div class="error" role="alert"><p>The incident has ${d.problems.length} problem${d.problems.length === 1 ? "" : "s"}:</p><ul>${d.problems.map(
        (p) => {
          const f = fieldOf(p, d.leaves);
          return html`<li>${f ? html`<a href="#${fieldId(f)}">${p.path}</a>` : p.path}: ${p.message}</li>`;
        },
      )}</ul></div>`
    : d.checked
      ? html`<p class="notice" role="status">The incident is valid.</p>`
      : ""
}
${d.error ? html`<p class="error" role="alert">${d.error}</p>` : ""}
<div class="cols">
<form method="post" action="/new" aria-label="Incident fields">${hidden(chrome)}
<input type="hidden" name="document" value="${JSON.stringify(d.document)}">
${[...groups].map(([group, leaves]) => html`<fieldset><legend>${group}</legend>${leaves.map(field)}</fieldset>`)}
<fieldset><legend>The run</legend>
<label for="snapshot">Snapshot: the subscriptions CSV, a path on this machine</label><input type="text" id="snapshot" name="snapshot" value="${d.snapshot}">
<label for="reason">Reason (kept in the run's history)</label><input type="text" id="reason" name="reason" value="${d.reason}">
<label for="by">Your name</label><input type="text" id="by" name="by" value="${d.by}" autocomplete="name">
</fieldset>
<button type="submit" name="intent" value="check" class="secondary">Check</button>
<button type="submit" name="intent" value="preview">Preview (a dry run)</button>
</form>
<form method="post" action="/new" aria-label="Incident JSON">${hidden(chrome)}
<input type="hidden" name="snapshot" value="${d.snapshot}"><input type="hidden" name="reason" value="${d.reason}"><input type="hidden" name="by" value="${d.by}">
<label for="json">The incident as JSON</label>
<textarea id="json" name="json" spellcheck="false"${d.jsonError ? html` aria-invalid="true" aria-describedby="json-error"` : ""}>${d.json}</textarea>
${d.jsonError ? html`<p class="field-error" id="json-error">${d.jsonError}</p>` : ""}
<button type="submit" name="intent" value="json" class="secondary">Use this JSON</button>
</form></div>`;
  return layout("A new run or a rerun", body, chrome);
}

export function errorPage(status: number, text: string, chrome: Chrome): string {
  return layout(
    status === 404 ? "Not found" : "Refused",
    html`<h1>${status === 404 ? "Not found" : status >= 500 ? "Something failed" : "Refused"}</h1><p class="error" role="alert">${text}</p><p><a href="/">Back to the incidents</a></p>`,
    chrome,
  );
}
