import { TZDB_NAMES } from "./tzdb-names";

/**
 * Time zones as the contract admits them: names of the tz database (links such as `Japan` and `UTC` included),
 * matched without regard to case as ECMAScript does. Numeric offsets (`+09:00`) and names the database lacks
 * (`JST`, which ICU alone would accept) are not zones.
 */
const BY_LOWER = new Map(TZDB_NAMES.map((name) => [name.toLowerCase(), name]));
const resolved = new Map<string, string | undefined>();

/**
 * No name of the tz database is longer (the longest has 32 characters): a longer value is refused without being
 * looked up or remembered, so a huge field does not stay in memory for the run.
 */
export const MAX_ZONE_NAME = 64;

/** The tz database spelling of a zone name, or undefined when it is not a zone this runtime can compute in. */
export function resolveTimeZone(name: string): string | undefined {
  if (name.length > MAX_ZONE_NAME) return undefined;
  if (resolved.has(name)) return resolved.get(name);
  let zone = BY_LOWER.get(name.toLowerCase());
  if (zone !== undefined) {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
    } catch {
      zone = undefined; // in the tz database but unknown to this runtime's ICU: cannot be computed, so refused
    }
  }
  resolved.set(name, zone);
  return zone;
}
