import { randomUUID } from "node:crypto";
import {
  EventBridgeClient,
  EventBridgeServiceException,
  PutEventsCommand,
  type PutEventsRequestEntry,
  type PutEventsResultEntry,
} from "@aws-sdk/client-eventbridge";
import { mockClient } from "aws-sdk-client-mock";
import { AWS_LIMITS, type AwsLimits } from "./aws-limits";
import { ACCOUNT, type DeployedRule, type DeployedTemplate, PARTITION, REGION } from "./deployed-template";
import type { AwsCallLog, Principal } from "./iam-policy";
import type { LambdaService } from "./lambda-service";

/** An event as EventBridge delivers it to a rule's target. */
export interface BusEventEnvelope {
  version: "0";
  id: string;
  "detail-type": string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

/**
 * A PutEvents entry's size as AWS documents it ("Calculating PutEvents event entry size"): 14 bytes for a Time,
 * plus the UTF-8 bytes of Source, DetailType, Detail and each of Resources.
 */
export function entrySize(entry: PutEventsRequestEntry): number {
  const utf8 = (s: string | undefined) => (s === undefined ? 0 : Buffer.byteLength(s, "utf8"));
  return (
    (entry.Time ? 14 : 0) +
    utf8(entry.Source) +
    utf8(entry.DetailType) +
    utf8(entry.Detail) +
    (entry.Resources ?? []).reduce((n, r) => n + utf8(r), 0)
  );
}

/** EventBridge's content filters, as far as the template's patterns use them: values, prefix, anything-but, exists. */
function matches(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) {
    const values = Array.isArray(value) ? value : [value];
    return pattern.some((p) => {
      if (p !== null && typeof p === "object") {
        const f = p as { prefix?: string; "anything-but"?: unknown; exists?: boolean };
        if (f.exists !== undefined) return f.exists === (value !== undefined);
        if (f.prefix !== undefined)
          return values.some((v) => typeof v === "string" && v.startsWith(f.prefix as string));
        if (f["anything-but"] !== undefined)
          return value !== undefined && values.every((v) => !([f["anything-but"]].flat() as unknown[]).includes(v));
        return false;
      }
      return values.some((v) => v === p);
    });
  }
  if (pattern !== null && typeof pattern === "object") {
    if (value === null || typeof value !== "object") return false;
    return Object.entries(pattern).every(([k, p]) => matches(p, (value as Record<string, unknown>)[k]));
  }
  return false;
}

const validation = (message: string) =>
  new EventBridgeServiceException({
    name: "ValidationException",
    $fault: "client",
    message,
    $metadata: { httpStatusCode: 400 },
  });

/**
 * EventBridge for the template: its buses, its rules (with their patterns) and their Lambda targets.
 * - PutEvents through real EventBridgeClients (aws-sdk-client-mock), one per principal, each call checked against
 *   the caller's policies (`events:PutEvents` on the bus ARN), with AWS's limits: at most 10 entries, each entry
 *   and the whole request at most 256 KB as {@link entrySize} computes them (ValidationException), a Detail that is
 *   not a JSON object refused per entry (MalformedDetail), an unknown bus per entry.
 * - Service events (Step Functions' "Execution Status Change") go to the default bus.
 * Each accepted event is kept on its bus and delivered to every matching rule's Lambda targets (asynchronously, as
 * EventBridge invokes Lambda), provided a resource-based permission (AWS::Lambda::Permission) lets the rule invoke
 * the function: the delivery is recorded in the call log as the rule's, and refused without one.
 */
export class FakeEventBridge {
  /** Every event accepted, by bus name. */
  readonly events = new Map<string, BusEventEnvelope[]>();
  private readonly rules: (DeployedRule & { bus: string })[];
  private readonly deliveries = new Set<Promise<unknown>>();

  constructor(
    private readonly template: DeployedTemplate,
    private readonly log: AwsCallLog,
    private readonly lambdas: LambdaService,
    readonly limits: AwsLimits = AWS_LIMITS,
  ) {
    this.events.set("default", []);
    for (const id of template.ofType("AWS::Events::EventBus")) this.events.set(template.physicalName(id), []);
    this.rules = template.rules().map((r) => {
      const bus = template.resource(r.logicalId).Properties?.EventBusName;
      return { ...r, bus: bus === undefined ? "default" : template.resolveString(bus) };
    });
  }

  clientFor(principal: Principal): EventBridgeClient {
    const client = new EventBridgeClient({ region: REGION, credentials: { accessKeyId: "x", secretAccessKey: "x" } });
    const mock = mockClient(client);
    mock.onAnyCommand().callsFake(async () => {
      throw new Error("the fake EventBridge serves PutEvents only");
    });
    mock.on(PutEventsCommand).callsFake(async (input) => this.putEvents(input.Entries ?? [], principal));
    return client;
  }

  /** A service's event (source `aws.…`) on the default bus. */
  emit(event: Omit<BusEventEnvelope, "version" | "id" | "account" | "region">): void {
    this.accept("default", { version: "0", id: randomUUID(), account: ACCOUNT, region: REGION, ...event });
  }

  /** Waits for every delivery to a rule's target to end. */
  async settled(): Promise<void> {
    while (this.deliveries.size > 0) await Promise.allSettled([...this.deliveries]);
  }

  private busName(ref: string | undefined): string {
    if (!ref) return "default";
    return ref.startsWith("arn:") ? (ref.split("/").at(-1) as string) : ref;
  }

  private putEvents(entries: PutEventsRequestEntry[], principal: Principal) {
    if (entries.length === 0) throw validation("1 validation error detected: Value at 'entries' must have length >= 1");
    if (entries.length > this.limits.putEventsMaxEntries)
      throw validation(
        `1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to ${this.limits.putEventsMaxEntries}`,
      );
    const sizes = entries.map(entrySize);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (sizes.some((s) => s > this.limits.putEventsMaxBytes) || total > this.limits.putEventsMaxBytes)
      throw validation(
        `Total size of the entries in the request is over the limit (${total} bytes, entries ${sizes.join(", ")}; limit ${this.limits.putEventsMaxBytes})`,
      );
    const results: PutEventsResultEntry[] = entries.map((entry) => {
      const bus = this.busName(entry.EventBusName);
      const arn = `arn:${PARTITION}:events:${REGION}:${ACCOUNT}:event-bus/${bus}`;
      const call = this.log.record(principal, "PutEventsCommand", "events:PutEvents", arn);
      if (this.log.refuses(call))
        return { ErrorCode: "AccessDeniedException", ErrorMessage: `not authorized to put events on ${arn}` };
      if (!this.events.has(bus)) return { ErrorCode: "ResourceNotFoundException", ErrorMessage: `no bus ${bus}` };
      let detail: unknown;
      try {
        detail = JSON.parse(entry.Detail ?? "");
      } catch {
        detail = undefined;
      }
      if (detail === null || typeof detail !== "object" || Array.isArray(detail))
        return { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." };
      if (!entry.Source || !entry.DetailType)
        return { ErrorCode: "InvalidArgument", ErrorMessage: "Parameter(s) Source and DetailType must be specified." };
      const id = randomUUID();
      this.accept(bus, {
        version: "0",
        id,
        "detail-type": entry.DetailType,
        source: entry.Source,
        account: ACCOUNT,
        time: (entry.Time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
        region: REGION,
        resources: entry.Resources ?? [],
        detail,
      });
      return { EventId: id };
    });
    return {
      FailedEntryCount: results.filter((r) => r.ErrorCode).length,
      Entries: results,
      $metadata: { httpStatusCode: 200 },
    };
  }

  private accept(bus: string, event: BusEventEnvelope) {
    this.events.get(bus)?.push(event);
    for (const rule of this.rules) {
      if (rule.bus !== bus || !matches(rule.pattern, event)) continue;
      for (const target of rule.targets) {
        if (!target.includes(":lambda:")) continue;
        const principal = { roleId: `events.amazonaws.com`, actor: `rule ${rule.logicalId}` };
        const permitted = this.permits(rule.arn, target);
        this.log.recordVerdict(
          principal,
          "Invoke (rule target)",
          "lambda:InvokeFunction",
          target,
          permitted
            ? { allowed: true }
            : { allowed: false, reason: "no AWS::Lambda::Permission lets the rule invoke it" },
        );
        if (!permitted) continue;
        const delivery = this.lambdas.invoke(target, event);
        this.deliveries.add(delivery);
        void delivery.finally(() => this.deliveries.delete(delivery));
      }
    }
  }

  /** Whether a resource-based permission of the template lets the rule invoke the function. */
  private permits(ruleArn: string, functionArn: string): boolean {
    return this.template.ofType("AWS::Lambda::Permission").some((id) => {
      const p = this.template.resolve(this.template.resource(id).Properties) as Record<string, string>;
      return (
        p.Action === "lambda:InvokeFunction" &&
        p.Principal === "events.amazonaws.com" &&
        (p.FunctionName === functionArn || p.FunctionName === functionArn.split(":")[6]) &&
        (p.SourceArn === undefined || p.SourceArn === ruleArn)
      );
    });
  }
}
