import { describe, expect, it } from "vitest";
import { z } from "zod";
import { PermanentError, TransientError } from "../../../shared/errors";
import {
  FOREIGN_PERMANENT_ERRORS,
  PERMANENT_ERROR_CLASSES,
  permanentErrorNames,
} from "../../../shared/pipeline/permanent-errors";
import { errorSources, hiwariErrorClasses } from "../../helpers/error-classes";

const found = hiwariErrorClasses();
const names = (classes: readonly { name: string }[]) => classes.map((c) => c.name).sort();

describe("PERMANENT_ERROR_CLASSES: every error retrying cannot mend, found in the code", () => {
  it("lists every exported class under shared/ and functions/ that extends PermanentError, and no other", () => {
    const permanent = found.filter((e) => e.cls.prototype instanceof PermanentError).map((e) => e.cls);

    expect(found.length).toBeGreaterThan(15); // the enumeration itself works
    expect(names(PERMANENT_ERROR_CLASSES)).toEqual(names(permanent));
  });

  it("declares every error class of shared/ and functions/ permanent or transient, none a bare Error", () => {
    const sources = Object.values(errorSources()).join("\n");

    for (const { cls } of found)
      expect(cls.prototype instanceof PermanentError || cls.prototype instanceof TransientError, cls.name).toBe(true);
    const bare = [...sources.matchAll(/class (\w+) extends Error\b/g)].map((m) => m[1]);
    expect(bare).toEqual(["HiwariError"]);
    // A class that is not exported cannot be listed, nor found above: a permanent one must be exported.
    const permanent = new Set(["PermanentError", ...names(PERMANENT_ERROR_CLASSES)]);
    for (const [, name, base] of sources.matchAll(/class (\w+) extends (\w+)/g))
      if (permanent.has(base as string)) expect(permanent.has(name as string), `${name} extends ${base}`).toBe(true);
  });

  it("names each class in its source as a literal, so a minified Lambda reports the name the retriers match", () => {
    for (const { cls, source } of found) expect(source, cls.name).toContain(`this.name = "${cls.name}";`);
  });

  it("adds zod's ZodError (an event failing its schema), named as zod names it", () => {
    expect(FOREIGN_PERMANENT_ERRORS).toEqual([new z.ZodError([]).name]);
    expect(permanentErrorNames().sort()).toEqual([...names(PERMANENT_ERROR_CLASSES), "ZodError"].sort());
  });
});
