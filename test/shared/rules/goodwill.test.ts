import { describe, expect, it } from "vitest";
import { parseIncident } from "../../../shared/input/incident";
import { creditsSubscriber, goodwillLine } from "../../../shared/rules/goodwill";
import { incidentDoc } from "../../helpers/factories";

// The span of the default incident: [2011-12-20T23:30+09:00, 2011-12-22T14:00+09:00).
const START = Date.parse("2011-12-20T23:30:00+09:00") / 1000;
const END = Date.parse("2011-12-22T14:00:00+09:00") / 1000;
const goodwill = { amount: 200, currency: "JPY" };
const active = (activeFrom: number, activeTo: number, cells?: Record<string, string>) => ({
  activeFrom,
  activeTo,
  cells: cells && new Map(Object.entries(cells)),
});

describe("creditsSubscriber", () => {
  it("credits no one when the incident grants no goodwill", () => {
    expect(creditsSubscriber(parseIncident(incidentDoc()), active(0, Infinity), true)).toBe(false);
  });

  it('under "refunded" (the default), credits exactly the suspended rows', () => {
    const incident = parseIncident(incidentDoc({ goodwill }));
    expect(creditsSubscriber(incident, active(0, Infinity), true)).toBe(true);
    expect(creditsSubscriber(incident, active(0, Infinity), false)).toBe(false);
  });

  it('under "active", credits a row active for a positive length inside the span, suspended or not', () => {
    const incident = parseIncident(incidentDoc({ goodwill: { ...goodwill, scope: "active" } } as never));
    expect(creditsSubscriber(incident, active(START - 10, START + 1), false)).toBe(true);
    expect(creditsSubscriber(incident, active(END - 1, Infinity), false)).toBe(true);
    expect(creditsSubscriber(incident, active(0, START), true)).toBe(false);
    expect(creditsSubscriber(incident, active(END, Infinity), false)).toBe(false);
  });

  it("with goodwill.where, credits only matching rows", () => {
    const where = { brand: ["au", "UQ"] };
    const incident = parseIncident(incidentDoc({ goodwill: { ...goodwill, where } } as never));
    expect(creditsSubscriber(incident, active(0, Infinity, { brand: "UQ" }), true)).toBe(true);
    expect(creditsSubscriber(incident, active(0, Infinity, { brand: "povo" }), true)).toBe(false);
    expect(creditsSubscriber(incident, active(0, Infinity, { brand: "uq" }), true)).toBe(false);
  });
});

describe("goodwillLine", () => {
  it("is one line of nulls, unit goodwill, units and basis 1, in the goodwill's currency", () => {
    expect(goodwillLine(parseIncident(incidentDoc({ goodwill })), "S-1")).toEqual({
      subscriptionId: null,
      subscriberId: "S-1",
      serviceCode: null,
      periodStart: null,
      periodEnd: null,
      unit: "goodwill",
      units: 1,
      basis: 1,
      amount: 200n,
      currency: "JPY",
    });
    expect(goodwillLine(parseIncident(incidentDoc()), "S-1")).toBeUndefined();
  });
});
