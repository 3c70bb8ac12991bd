import { describe, expect, it } from "vitest";
import { postedError, rebuiltError } from "../../../bin/commands/posted-error";
import { CompactStringSetFullError } from "../../../shared/collections/compact-string-set";
import { UnusableSnapshotError } from "../../../shared/engine/snapshot-header";

/** An error through a worker's port: posted as plain values, copied as postMessage copies them, rebuilt. */
const across = (e: unknown) => rebuiltError(structuredClone(postedError(e)));

describe("postedError and rebuiltError (a worker's error in the main thread)", () => {
  it("rebuilds the errors the command names for people as their own class: message, fields, the worker's stack", () => {
    // Prepare
    const full = new CompactStringSetFullError(107_372_544, 4_294_901_760, 4_294_901_760, 40);
    const unusable = new UnusableSnapshotError("subs.csv: the file is empty: it needs a header row");

    // Act
    const fullAcross = across(full);
    const unusableAcross = across(unusable);

    // Assess
    expect(fullAcross).toBeInstanceOf(CompactStringSetFullError);
    expect(fullAcross).toMatchObject({ name: full.name, message: full.message, entries: 107_372_544, permanent: true });
    expect(fullAcross.stack).toBe(full.stack);
    expect(unusableAcross).toBeInstanceOf(UnusableSnapshotError);
    expect(unusableAcross.message).toBe(unusable.message);
  });

  it("keeps a system error's code and syscall (named in its own words), and makes an Error of anything else", () => {
    const system = across(
      Object.assign(new Error("ENOENT: no such file or directory, open 'subs.csv'"), {
        code: "ENOENT",
        syscall: "open",
      }),
    );
    const other = across(new TypeError("x is not a function"));
    const thrown = across("a string");

    expect(system).toBeInstanceOf(Error);
    expect(system).toMatchObject({
      code: "ENOENT",
      syscall: "open",
      message: "ENOENT: no such file or directory, open 'subs.csv'",
    });
    expect(other).toMatchObject({ name: "TypeError", message: "x is not a function" });
    expect(other.stack).toContain("TypeError: x is not a function");
    expect(thrown).toMatchObject({ name: "Error", message: "a string" });
  });
});
