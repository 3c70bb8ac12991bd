/**
 * Subscriber data in logs. hiwari's log lines name runs, batches, shards and line numbers, never a subscription or
 * a subscriber: those ids are personal data (a carrier's line or customer number), and the logs are read by
 * operators. This replacer is the second line of defence, for a log line that passes a refund line or a rejected
 * row as an attribute: any attribute named like an id is masked before the line is written.
 *
 * The mask keeps the last two characters (`***42`): enough to tell two lines of one batch apart when reading the
 * run's files (`rejects.jsonl`, by line number), useless to find the subscriber. Not a hash: ids are short and
 * enumerable (phone numbers), so an unkeyed hash is reversed by trying them all.
 */

/** Attribute names whose values are, or embed, a subscription or subscriber id (`lineId` and `eventId` embed one). */
const ID_KEY = /^(subscription|subscriber|line|event)_?ids?$/i;

/** Characters of an id the mask keeps. */
const KEPT = 2;

/** An id as logs may show it: `***` and its last two characters, or `***` alone for an id of five or fewer. */
export function maskId(id: string): string {
  const chars = [...id];
  return chars.length <= 5 ? "***" : `***${chars.slice(-KEPT).join("")}`;
}

/**
 * Attribute names whose values hold ids inside a structure or a text: DynamoDB keys and items (a line's key is
 * its subscription's), stream images, an SQS body, an event's `Detail` as PutEvents sends it (JSON text). Masked
 * whole: `***`.
 */
const HOLDS_IDS = /^(pk|sk|gsi1pk|gsi1sk|keys?|items?|newimage|oldimage|messagebody)$/i;

/** A Powertools `jsonReplacerFn`: masks the values of id-named attributes, at any depth of a log line. */
export function maskIdentifiers(key: string, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (HOLDS_IDS.test(key) || (/^detail$/i.test(key) && typeof value === "string")) return "***";
  if (!ID_KEY.test(key)) return value;
  if (typeof value === "string") return maskId(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === "string" ? maskId(v) : "***"));
  return "***";
}
