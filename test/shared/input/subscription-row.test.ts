import { describe, expect, it } from "vitest";
import { csvOf, incidentDoc, row, run } from "../../helpers/factories";

const HEADER =
  "subscription_id,subscriber_id,service_code,monthly_fee,currency,active_from,active_to,time_zone,billing_day";

describe("bad rows", () => {
  it.each([
    ["an empty subscriber_id", { subscriber_id: "" }, "subscriber_id", "must not be empty"],
    [
      "a service_code over 128 characters",
      { service_code: "X".repeat(129) },
      "service_code",
      "must be at most 128 characters",
    ],
    [
      "a fee with a leading zero",
      { monthly_fee: "007" },
      "monthly_fee",
      'must be a non-negative integer in minor units, digits only without sign or leading zeros (got "007")',
    ],
    [
      "a fee with a sign",
      { monthly_fee: "+5" },
      "monthly_fee",
      'must be a non-negative integer in minor units, digits only without sign or leading zeros (got "+5")',
    ],
    [
      "a fee in exponent form",
      { monthly_fee: "1e3" },
      "monthly_fee",
      'must be a non-negative integer in minor units, digits only without sign or leading zeros (got "1e3")',
    ],
    [
      "a fee with surrounding spaces",
      { monthly_fee: " 210" },
      "monthly_fee",
      'must be a non-negative integer in minor units, digits only without sign or leading zeros (got " 210")',
    ],
    [
      "a lower-case currency",
      { currency: "jpy" },
      "currency",
      'must be an ISO 4217 code of three capital letters (got "jpy")',
    ],
    ["an unknown currency", { currency: "ABC" }, "currency", '"ABC" is not an ISO 4217 currency'],
    [
      "an empty active_from",
      { active_from: "" },
      "active_from",
      'must be a date YYYY-MM-DD or an instant YYYY-MM-DDThh:mm:ss followed by Z or ±hh:mm (got "")',
    ],
    [
      "a date that does not exist",
      { active_from: "2011-02-29" },
      "active_from",
      'is not a real date: has day 29, which that month lacks (got "2011-02-29")',
    ],
    [
      "hour 24",
      { active_from: "2011-01-01T24:00:00Z" },
      "active_from",
      'is not a real time of day (hh 00–23, mm and ss 00–59) (got "2011-01-01T24:00:00Z")',
    ],
    [
      "fractional seconds",
      { active_from: "2011-01-01T00:00:00.5Z" },
      "active_from",
      'must be an instant YYYY-MM-DDThh:mm:ss followed by Z or ±hh:mm (got "2011-01-01T00:00:00.5Z")',
    ],
    [
      "an instant without offset",
      { active_to: "2012-01-01T00:00:00" },
      "active_to",
      'must be an instant YYYY-MM-DDThh:mm:ss followed by Z or ±hh:mm (got "2012-01-01T00:00:00")',
    ],
    [
      "active_to equal to active_from",
      { active_from: "2011-06-01", active_to: "2011-06-01" },
      "active_to",
      "must be later than active_from",
    ],
    [
      "active_to before active_from once zones apply",
      { active_from: "2011-06-01T00:30:00+09:00", active_to: "2011-06-01", time_zone: "Asia/Tokyo" },
      "active_to",
      "must be later than active_from",
    ],
    [
      "a numeric offset as zone",
      { time_zone: "+09:00" },
      "time_zone",
      '"+09:00" is not a time zone of the tz database (IANA)',
    ],
    [
      "an abbreviation ICU knows but the tz database lacks",
      { time_zone: "JST" },
      "time_zone",
      '"JST" is not a time zone of the tz database (IANA)',
    ],
    [
      "billing day 0",
      { billing_day: "0" },
      "billing_day",
      'must be a whole number from 1 to 31 without leading zeros, or empty for 1 (got "0")',
    ],
    [
      "billing day 32",
      { billing_day: "32" },
      "billing_day",
      'must be a whole number from 1 to 31 without leading zeros, or empty for 1 (got "32")',
    ],
    [
      "billing day with a leading zero",
      { billing_day: "07" },
      "billing_day",
      'must be a whole number from 1 to 31 without leading zeros, or empty for 1 (got "07")',
    ],
  ])("rejects %s with its field and reason, and computes the rows around it", async (_name, fields, field, reason) => {
    const { lines, rejects, counts } = await run(incidentDoc(), csvOf([row({}, 1), row(fields, 2), row({}, 3)]));
    expect(rejects).toEqual([{ line: 3, subscriptionId: "C-2", field, reason }]);
    expect(lines.map((l) => l.subscriptionId)).toEqual(["C-1", "C-3"]);
    expect(counts).toMatchObject({ rows: 3, computed: 2, rejected: 1 });
  });

  it("accepts any character outside the Basic Multilingual Plane in an id, U+1F3FF included", async () => {
    const { lines, rejects } = await run(incidentDoc(), csvOf([row({ subscriber_id: "S-\u{1F3FF}" })]));
    expect(rejects).toEqual([]);
    expect(lines[0]?.subscriberId).toBe("S-\u{1F3FF}");
  });

  it("refuses a time_zone of 100,000 characters, quoting it cut short", async () => {
    const { rejects } = await run(incidentDoc(), csvOf([row({ time_zone: "Asia/Tokyo".repeat(10_000) })]));
    expect(rejects).toEqual([
      {
        line: 2,
        subscriptionId: "C-1",
        field: "time_zone",
        reason: `${JSON.stringify(`${"Asia/Tokyo".repeat(4)}…`)} is not a time zone of the tz database (IANA)`,
      },
    ]);
  });

  it("accepts zone names in any case and links such as Japan", async () => {
    const { lines, rejects } = await run(
      incidentDoc(),
      csvOf([row({ time_zone: "asia/tokyo" }, 1), row({ time_zone: "Japan" }, 2)]),
    );
    expect(rejects).toEqual([]);
    expect(lines.map((l) => l.units)).toEqual([3, 3]);
  });

  it("rejects every copy of a duplicated subscription_id, whatever else is true of them", async () => {
    const csv = csvOf([
      row({}, 1),
      row({ subscription_id: "C-1", monthly_fee: "x" }, 2),
      row({}, 3),
      row({ subscription_id: "C-1" }, 4),
    ]);
    const { lines, rejects } = await run(incidentDoc(), csv);
    expect(rejects).toEqual(
      [2, 3, 5].map((line) => ({
        line,
        subscriptionId: "C-1",
        field: "subscription_id",
        reason: '"C-1" occurs more than once in the file',
      })),
    );
    expect(lines.map((l) => l.subscriptionId)).toEqual(["C-3"]);
  });

  it("does not count a record of the wrong width as a duplicate copy", async () => {
    const csv = `${HEADER}\nC-1,S-1,IMADOKO,210,JPY,2011-01-01,,,\nC-1,S-1,IMADOKO,210,JPY,2011-01-01,,\n`;
    const { lines, rejects } = await run(incidentDoc(), csv);
    expect(rejects).toEqual([
      { line: 3, subscriptionId: "C-1", field: null, reason: "has 8 fields, the header has 9" },
    ]);
    expect(lines).toHaveLength(1);
  });

  it("rejects records with more fields than the header, and reports quoting faults by field name", async () => {
    const csv = `${HEADER}\nC-1,S-1,IMADOKO,210,JPY,2011-01-01,,,,extra\nC-2,S-2,IMA"DOKO,210,JPY,2011-01-01,,,\nC-3,S-3,IMADOKO,210,JPY,2011-01-01,,,\n`;
    const { lines, rejects } = await run(incidentDoc(), csv);
    expect(rejects).toEqual([
      { line: 2, subscriptionId: "C-1", field: null, reason: "has 10 fields, the header has 9" },
      { line: 3, subscriptionId: "C-2", field: "service_code", reason: "field 3 has a quote inside an unquoted value" },
    ]);
    expect(lines.map((l) => l.subscriptionId)).toEqual(["C-3"]);
  });

  it("reads a CSV with a BOM, CRLF, columns in another order, extra columns and quoted multi-line fields", async () => {
    const csv =
      "\uFEFFnote,billing_day,time_zone,active_to,active_from,currency,monthly_fee,service_code,subscriber_id,subscription_id\r\n" +
      '"first, with a comma",,,,2011-01-01,JPY,210,IMADOKO,S-1,C-1\r\n' +
      "\r\n" +
      '"two\r\nlines",1,Asia/Tokyo,,2011-01-01,JPY,310,IMADOKO,"S-2","C-2"\r\n' +
      "x,1,Asia/Tokyo,,2011-01-01,JPY,oops,IMADOKO,S-3,C-3\r\n";
    const { lines, rejects } = await run(incidentDoc(), csv);
    expect(lines.map((l) => [l.subscriptionId, l.amount])).toEqual([
      ["C-1", 20n],
      ["C-2", 30n],
    ]);
    expect(rejects).toEqual([
      {
        line: 6,
        subscriptionId: "C-3",
        field: "monthly_fee",
        reason: 'must be a non-negative integer in minor units, digits only without sign or leading zeros (got "oops")',
      },
    ]);
  });
});

describe("unusable snapshots", () => {
  it.each([
    ["an empty file", "", "subscriptions: the file is empty: it needs a header row"],
    [
      "a header without billing_day",
      HEADER.replace(",billing_day", ""),
      "subscriptions: line 1: the header lacks the column billing_day",
    ],
    [
      "a header lacking two columns",
      "subscription_id,subscriber_id,service_code,monthly_fee,currency,active_from,active_to",
      "subscriptions: line 1: the header lacks the columns time_zone, billing_day",
    ],
    ["a header naming a column twice", `${HEADER},currency`, "subscriptions: line 1: column currency appears twice"],
  ])("refuses %s as a whole", async (_name, csv, message) => {
    await expect(run(incidentDoc(), csv)).rejects.toThrow(message);
  });
});
