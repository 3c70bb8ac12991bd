// CDK app entry point (cdk.json: "npx tsx infra/app.ts"). Select the stage with `-c stage=prod`.
import { createHiwariApp } from "./hiwari-app";

createHiwariApp();
