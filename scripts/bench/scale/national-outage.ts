/**
 * The scale bench's case: a national outage on the KDDI 2022 terms (full 24-hour blocks, a 30-day basis, a flat
 * ¥200 apology per affected subscriber), every service of the network down, and a snapshot of N subscriptions with
 * realistic ids: UUIDs for subscriptions and subscribers, one to four subscriptions per subscriber (1.6 on
 * average), so goodwill (one line per affected subscriber) is exercised. Most rows are affected (lines ≈ rows);
 * the rest exercise the other paths: ~1% of a service the incident does not name (skipped), ~2% joined after the
 * outage or left before it (no line), ~2% joined during it (goodwill, a refund line only with 24 hours down), 15%
 * billed on another day than the 1st (some lines split at a period boundary), one row in 50,000 with a bad fee
 * (rejected), and one subscription id given to two rows (the middle one and the one before it: both rejected), so
 * that prepare reads the snapshot a second time to confirm the duplicate, as it must for any snapshot that has one.
 *
 * scripts/bench/generate-case.ts writes the `npm run bench` case (short sequential ids, no goodwill, one line a
 * row); this one writes the same way (1 MB chunks with back-pressure, seeded, the same bytes on every machine).
 */
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { SUBSCRIPTION_COLUMNS } from "../../../shared/input/subscription-row";
import { seededRandom } from "../../seeded-random";

const START = "2022-07-02T01:35:00+09:00";
const END = "2022-07-04T15:00:00+09:00";

/** Monthly fees (yen) of the network's services; the first is every subscriber's line. */
const SERVICES = [
  { code: "AU-BASIC", fee: 1650 },
  { code: "AU-DATA", fee: 4928 },
  { code: "AU-VOICE", fee: 980 },
  { code: "AU-VIDEO", fee: 618 },
];
/** A service that was not down: its rows are skipped. */
const UNAFFECTED = { code: "AU-SETTOP", fee: 550 };

export const NATIONAL_OUTAGE = {
  incidentId: "scale-kddi-2022-07",
  title: "npm run bench:scale: a national outage on the KDDI 2022 terms",
  timeZone: "Asia/Tokyo",
  policy: { rule: "full-24h", dayBasis: 30, rounding: "floor" },
  suspensions: SERVICES.map((s) => ({ serviceCode: s.code, start: START, end: END })),
  goodwill: { amount: 200, currency: "JPY" },
};

/**
 * Who the scale bench credits: `"refunded"` (the national outage above: every subscriber with a refunded row) or
 * `"active"`, KDDI's July 2022 as it was refunded (contract v2 scope): one line per subscriber, a `brand` and a
 * `plan` column, the basic fee refunded only to voice-only plans (~7.7%, KDDI's 2.78 M of 36 M), and the apology
 * to every au and UQ mobile subscriber under contract during the outage (~95%: not povo, which has no monthly fee):
 * a goodwill line for nearly every row.
 */
export type GoodwillCase = "refunded" | "active";

/** The incident of a case. */
export function nationalOutage(goodwill: GoodwillCase) {
  if (goodwill === "refunded") return NATIONAL_OUTAGE;
  const basic = SERVICES[0] as (typeof SERVICES)[number];
  return {
    ...NATIONAL_OUTAGE,
    incidentId: "scale-kddi-2022-07-active",
    suspensions: [{ serviceCode: basic.code, start: START, end: END, where: { plan: [VOICE_ONLY] } }],
    goodwill: { amount: 200, currency: "JPY", scope: "active", where: { brand: ["au", "UQ mobile"] } },
  };
}

const VOICE_ONLY = "voice-only";

/** One row in this many has a bad fee: rejected, reported, its row counted. */
export const REJECT_EVERY = 50_000;

const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** Writes `rows` subscription rows (and the header) to `path`; returns the file's size in bytes. */
export async function writeNationalOutage(
  path: string,
  rows: number,
  goodwill: GoodwillCase = "refunded",
  seed = 20220702,
): Promise<number> {
  const active = goodwill === "active";
  const rnd = seededRandom(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const hex8 = () =>
    int(2 ** 32)
      .toString(16)
      .padStart(8, "0");
  const uuid = () => {
    const [a, b, c, d] = [hex8(), hex8(), hex8(), hex8()];
    return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-${"89ab"[int(4)]}${c.slice(1, 4)}-${c.slice(4)}${d}`;
  };
  /** Before the outage: a date (local midnight) or an instant, 2015 to 2021. */
  const before = () => {
    const day = `${2015 + int(7)}-${pad(1 + int(12), 2)}-${pad(1 + int(28), 2)}`;
    return rnd() < 0.5 ? day : `${day}T${pad(int(24), 2)}:${pad(int(60), 2)}:00+09:00`;
  };
  /** An instant in [from, from + hours) on 2022-07, JST. */
  const instantIn = (fromDay: number, fromHour: number, hours: number) => {
    const h = fromHour + int(hours);
    return `2022-07-${pad(fromDay + Math.floor(h / 24), 2)}T${pad(h % 24, 2)}:${pad(int(60), 2)}:00+09:00`;
  };

  const out = createWriteStream(path);
  let bytes = 0;
  let chunk = `${[...SUBSCRIPTION_COLUMNS, ...(active ? ["brand", "plan"] : [])].join(",")}\n`;
  const flush = async () => {
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, "drain");
    chunk = "";
  };
  let subscriber = "";
  let left = 0; // subscriptions of the current subscriber still to write
  let nth = 0;
  let previousId = "";
  const duplicateAt = Math.max(2, Math.floor(rows / 2));
  for (let i = 1; i <= rows; i++) {
    if (left === 0) {
      subscriber = uuid();
      const r = rnd();
      left = active || r < 0.55 ? 1 : r < 0.85 ? 2 : r < 0.95 ? 3 : 4;
      nth = 0;
    }
    left--;
    const service = rnd() < 0.01 ? UNAFFECTED : (SERVICES[nth === 0 ? 0 : 1 + int(SERVICES.length - 1)] ?? UNAFFECTED);
    nth++;
    const fate = rnd();
    let from = before();
    let to = "";
    if (fate < 0.01)
      to = `2022-0${1 + int(5)}-${pad(1 + int(28), 2)}`; // left before the outage
    else if (fate < 0.02)
      from = instantIn(5, 0, 24 * 20); // joined after it
    else if (fate < 0.04)
      from = instantIn(2, 2, 60); // joined during it
    else if (fate < 0.06) to = instantIn(2, 2, 60); // left during it
    const billingDay = rnd() < 0.85 ? "" : String(1 + int(28));
    const fee = i % REJECT_EVERY === 0 ? `${service.fee}.5` : String(service.fee);
    const id = i === duplicateAt ? previousId : uuid();
    previousId = id;
    if (!active) chunk += `${id},${subscriber},${service.code},${fee},JPY,${from},${to},,${billingDay}`;
    else {
      // povo 2.0 has no monthly fee (a data top-up instead): refunded nothing, credited nothing.
      const b = rnd();
      const brand = b < 0.7 ? "au" : b < 0.95 ? "UQ mobile" : "povo";
      const plan = brand === "povo" ? "povo2.0" : rnd() < 0.077 ? VOICE_ONLY : "5g";
      chunk += `${id},${subscriber},${service.code},${brand === "povo" ? "0" : fee},JPY,${from},${to},,${billingDay},${brand},${plan}`;
    }
    chunk += "\n";
    if (chunk.length > 1 << 20) await flush();
  }
  await flush();
  out.end();
  await once(out, "close");
  return bytes;
}
