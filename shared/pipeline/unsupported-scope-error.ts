import { type Incident, scopeFieldsOf } from "../input/incident";

/**
 * Thrown for an incident that uses contract v2's scope (a `where`, goodwill scope "active"): the pipeline does not
 * apply it yet, and refuses the incident rather than refund and credit without it. Permanent: retrying cannot help.
 */
export class UnsupportedScopeError extends Error {
  constructor(readonly fields: readonly string[]) {
    super(`${fields.join(", ")}: ${UNSUPPORTED_SCOPE}`);
    this.name = "UnsupportedScopeError";
  }
}

/** Why the pipeline refuses an incident with contract v2's scope, after the fields that use it. */
export const UNSUPPORTED_SCOPE =
  'the run pipeline does not apply contract v2 scope (where, goodwill scope "active") yet: use hiwari compute';

/** Throws UnsupportedScopeError when the incident uses contract v2's scope. */
export function refuseScopedIncident(incident: Incident): void {
  const fields = scopeFieldsOf(incident);
  if (fields.length > 0) throw new UnsupportedScopeError(fields);
}
