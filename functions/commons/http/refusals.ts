import type { APIGatewayProxyResult } from "aws-lambda";
import type { ProposalRefusedError } from "../../../shared/pipeline/proposal";
import { problem } from "./responses";

const STATUS = { invalid: 400, forbidden: 403, conflict: 409 } as const;

/** A refusal of the four-eyes rules as the finance API answers it: 400, 403 or 409 by its kind, with its message. */
export const refused = (e: ProposalRefusedError): APIGatewayProxyResult => problem(STATUS[e.kind], e.message);
