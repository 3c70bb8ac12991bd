import { Temporal } from "temporal-polyfill";
import { describe, expect, it } from "vitest";
import { resolveTimeZone } from "../../../shared/time/time-zone";
import { TZDB_NAMES } from "../../../shared/time/tzdb-names";

describe("TZDB_NAMES", () => {
  it("lists each name once, sorted, with the contract's examples and without the names the database lacks", () => {
    expect(new Set(TZDB_NAMES).size).toBe(TZDB_NAMES.length);
    expect([...TZDB_NAMES].sort()).toEqual(TZDB_NAMES);
    for (const name of ["Asia/Tokyo", "Japan", "UTC", "Pacific/Apia", "America/Sao_Paulo"])
      expect(TZDB_NAMES).toContain(name);
    for (const name of ["JST", "IST", "PST", "+09:00", "asia/tokyo"]) expect(TZDB_NAMES).not.toContain(name);
  });

  it("names only zones the engine can compute in, or ones resolveTimeZone refuses (Factory: no zone ICU knows)", () => {
    // Prepare: the names Temporal (through ICU) cannot compute in
    const unknown = TZDB_NAMES.filter((name) => {
      try {
        Temporal.Instant.fromEpochMilliseconds(0).toZonedDateTimeISO(name);
        return false;
      } catch {
        return true;
      }
    });

    // Assess: few, and each refused as a zone, so no row or incident reaches the rules with it
    expect(unknown.length).toBeLessThan(5);
    for (const name of unknown) expect(resolveTimeZone(name), name).toBeUndefined();
    expect(resolveTimeZone("asia/tokyo")).toBe("Asia/Tokyo");
  });
});
