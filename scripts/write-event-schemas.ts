// Writes the consumers' JSON Schema files into docs/events/ from the zod definitions (npm run events:schemas).
import { mkdirSync, writeFileSync } from "node:fs";
import { eventJsonSchemas } from "../shared/events/refund-events";

mkdirSync("docs/events", { recursive: true });
for (const [name, schema] of Object.entries(eventJsonSchemas())) {
  writeFileSync(`docs/events/${name}`, `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`docs/events/${name}`);
}
