import * as z from "zod";
import { PermanentError } from "../errors";
import { formatPath } from "../input/incident";

/**
 * The finance API's request to propose a preview: `POST /incidents/{incidentId}/proposals`. Who proposes is the
 * caller's IAM principal, never a field of the body: any other field (`proposedBy`, `by`) is dropped unread.
 */
export const ProposalRequestBodySchema = z.object({
  /** The completed dry run of this incident to propose. */
  previewRunId: z
    .string({ error: "is required" })
    .regex(/^run-[0-9a-f]{20}$/, "must be a run id (run- and 20 hex digits)"),
  reason: z.string({ error: "is required" }).trim().min(1, "is required").max(1000, "must be at most 1,000 characters"),
});
export type ProposalRequest = z.output<typeof ProposalRequestBodySchema>;

/** Thrown for a proposal request that cannot be read; `problems` name each field. */
export class ProposalRequestError extends PermanentError {
  constructor(readonly problems: string[]) {
    super(problems.join("; "));
    this.name = "ProposalRequestError";
  }
}

/** Validates a proposal request's body, every problem at once, each with its field's path. */
export function parseProposalRequest(body: unknown): ProposalRequest {
  const result = ProposalRequestBodySchema.safeParse(body);
  if (result.success) return result.data;
  throw new ProposalRequestError(
    result.error.issues.map((i) => `${formatPath(i.path).replace("(the incident)", "(the body)")}: ${i.message}`),
  );
}
