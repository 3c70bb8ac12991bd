import { SFNClient } from "@aws-sdk/client-sfn";
import { tracedClient } from "./traced-client";

/** The functions' Step Functions client: start-run and approve-proposal start executions. */
export const sfnClient = tracedClient(() => new SFNClient({}));
