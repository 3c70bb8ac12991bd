import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { eventJsonSchemas } from "../../../shared/events/refund-events";

describe("the published event schemas", () => {
  it.each(Object.entries(eventJsonSchemas()))(
    "docs/events/%s is up to date (else: npm run events:schemas)",
    (name, schema) => {
      expect(JSON.parse(readFileSync(`docs/events/${name}`, "utf8"))).toEqual(schema);
    },
  );
});
