import { describe, expect, it } from "vitest";
import {
  emptySnapshot,
  headerForIncident,
  snapshotHeader,
  UnusableSnapshotError,
} from "../../../shared/engine/snapshot-header";
import { PermanentError } from "../../../shared/errors";
import { parseIncident } from "../../../shared/input/incident";
import { SUBSCRIPTION_COLUMNS } from "../../../shared/input/subscription-row";
import { incidentDoc, SPMODE_WINDOW } from "../../helpers/factories";

// The header checks both engines, the pipeline's steps and `hiwari run` share. Each engine's refusals are checked
// end to end in test/shared/engine/reference/reference-engine.scope.test.ts ("where columns checked against the header").

const scoped = parseIncident(
  incidentDoc({
    suspensions: [{ ...SPMODE_WINDOW, where: { plan: ["a"] } }] as never,
  }),
);

describe("snapshotHeader", () => {
  it("finds the nine columns wherever they stand, and the columns an incident's where names", () => {
    // Prepare: the nine columns reversed, with the where's column first
    const fields = ["plan", ...[...SUBSCRIPTION_COLUMNS].reverse()];

    // Act
    const header = snapshotHeader("s.csv", { line: 1, fields }, scoped);

    // Assess
    expect(header.width).toBe(10);
    expect(header.index.subscription_id).toBe(9);
    expect(header.index.billing_day).toBe(1);
    expect([...(header.whereAt ?? [])]).toEqual([["plan", 0]]);
  });

  it("throws UnusableSnapshotError naming the file and line for a header without a column", () => {
    // Prepare
    const fields = SUBSCRIPTION_COLUMNS.filter((c) => c !== "currency");

    // Act
    const act = () => snapshotHeader("s.csv", { line: 1, fields });

    // Assess
    expect(act).toThrow(UnusableSnapshotError);
    expect(act).toThrow("s.csv: line 1: the header lacks the column currency");
  });

  it("throws UnusableSnapshotError for a header record the CSV reader could not read", () => {
    // Prepare
    const record = { line: 1, fields: ["a"], error: { field: 0, reason: "a quote inside an unquoted field" } };

    // Act
    const act = () => snapshotHeader("s.csv", record as never);

    // Assess
    expect(act).toThrow("s.csv: line 1: header: a quote inside an unquoted field");
  });
});

describe("headerForIncident", () => {
  it("ignores extra columns when the incident has no where, and names the where's path when its column is missing", () => {
    // Prepare
    const fields = [...SUBSCRIPTION_COLUMNS, "region"];

    // Act
    const unscoped = headerForIncident(fields);
    const missing = headerForIncident(fields, scoped);

    // Assess
    expect(unscoped.ok && unscoped.header.whereAt).toBe(undefined);
    expect(missing).toEqual({ ok: false, reason: 'suspensions[0].where.plan: the header has no column "plan"' });
  });
});

describe("emptySnapshot", () => {
  it("is a permanent UnusableSnapshotError asking for a header row", () => {
    // Act
    const error = emptySnapshot("s.csv");

    // Assess
    expect(error).toBeInstanceOf(UnusableSnapshotError);
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toBe("s.csv: the file is empty: it needs a header row");
  });
});
