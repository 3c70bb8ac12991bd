import { type RemovalPolicy, Validations } from "aws-cdk-lib";
import {
  AccessLogFormat,
  AuthorizationType,
  type JsonSchema,
  JsonSchemaVersion,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  Model,
  RequestValidator,
  RestApi,
} from "aws-cdk-lib/aws-apigateway";
import type { Alarm } from "aws-cdk-lib/aws-cloudwatch";
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Bucket } from "aws-cdk-lib/aws-s3";
import type { StateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { z } from "zod";
import { ProposalRequestBodySchema } from "../../shared/api/proposal-request";
import { RunRequestBodySchema } from "../../shared/api/run-request";
import { INCIDENT_FILE } from "../../shared/pipeline/run-steps";
import { acknowledgeWildcard, arnOf } from "../nag";
import { alarmAbove } from "./alarms";
import { FUNCTION_TIMEOUTS, HiwariFunction } from "./hiwari-function";
import { RUNS_PREFIX, SNAPSHOTS_PREFIX } from "./run-bucket";

/** The API Gateway stage the finance API is deployed to: `…/v1/incidents/{incidentId}/runs`. */
export const API_STAGE = "v1";

export interface FinanceApiProps {
  readonly refunds: Table;
  readonly runs: Table;
  readonly bucket: Bucket;
  readonly stateMachine: StateMachine;
  /** The stage's four eyes on reruns (StageConfig.requireProposalForReruns). */
  readonly requireProposalForReruns: boolean;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The finance API: `POST /incidents/{incidentId}/runs` (start-run), `GET /incidents/{incidentId}/runs` and
 * `GET /incidents/{incidentId}/runs/{runId}` (runs-api); four eyes: `POST /incidents/{incidentId}/proposals` and
 * its GETs, one proposal's too (proposals-api), and `POST /incidents/{incidentId}/proposals/{proposalId}/approve`
 * (approve-proposal). Every method is IAM-authorised (SigV4: finance's own AWS credentials, as `hiwari rerun
 * --api` signs): who proposes and who approves is the caller's IAM principal. A POST body is checked twice with
 * the same zod schema: by API Gateway against the JSON Schema generated from it, and in the function.
 */
export class FinanceApi extends Construct {
  readonly api: RestApi;
  readonly startRun: HiwariFunction;
  readonly readRuns: HiwariFunction;
  readonly proposals: HiwariFunction;
  readonly approve: HiwariFunction;
  readonly serverErrorsAlarm: Alarm;

  constructor(scope: Construct, id: string, props: FinanceApiProps) {
    super(scope, id);
    const { runs, bucket, stateMachine } = props;
    const common = {
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      timeout: FUNCTION_TIMEOUTS.api,
      memorySize: 512,
    };
    const starting = {
      REFUNDS_TABLE: props.refunds.tableName,
      RUNS_TABLE: runs.tableName,
      SNAPSHOT_BUCKET: bucket.bucketName,
      STATE_MACHINE_ARN: stateMachine.stateMachineArn,
      REQUIRE_PROPOSAL_FOR_RERUNS: String(props.requireProposalForReruns),
    };
    const incidentFiles = `${RUNS_PREFIX}*/${INCIDENT_FILE}`;
    /** What starting a run takes (start-run's, and an approval's): pin the snapshot, record the run, start it. */
    const startsRuns = (fn: HiwariFunction) => {
      fn.allowObjects(["s3:GetObject", "s3:GetObjectVersion"], bucket, SNAPSHOTS_PREFIX)
        // The incident goes to prepare by reference: left among the run's files, and nothing else written there.
        .allow(["s3:PutObject"], [bucket.arnForObjects(incidentFiles)])
        .allow(["states:StartExecution"], [stateMachine.stateMachineArn]);
      acknowledgeWildcard(
        fn.role,
        `${arnOf(bucket)}/${incidentFiles}`,
        "a run's incident document, under its run's prefix (runs/<incident>/<run>/), named by the function",
      );
      return fn;
    };
    this.startRun = startsRuns(
      new HiwariFunction(this, "StartRun", {
        ...common,
        entry: "start-run/handler.ts",
        description: "hiwari start-run: validate a run request, record the run, start its execution",
        environment: starting,
      }),
    ).allow(
      // Four eyes on reruns: the incident's runs are read to tell a rerun (only where the stage requires it).
      props.requireProposalForReruns
        ? ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
        : ["dynamodb:GetItem", "dynamodb:PutItem"],
      [runs.tableArn],
    );
    this.proposals = new HiwariFunction(this, "Proposals", {
      ...common,
      entry: "proposals-api/handler.ts",
      description: "hiwari proposals-api: propose a preview (a dry run), an incident's proposals, and one",
      environment: { REFUNDS_TABLE: props.refunds.tableName, RUNS_TABLE: runs.tableName },
    }).allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], [runs.tableArn]);
    this.approve = startsRuns(
      new HiwariFunction(this, "ApproveProposal", {
        ...common,
        entry: "approve-proposal/handler.ts",
        description: "hiwari approve-proposal: another person approves a proposal, which starts its run",
        environment: starting,
      }),
    )
      .allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], [runs.tableArn])
      // The previewed incident, as its preview kept it among its files: the bytes the approved run applies.
      .allow(["s3:GetObject"], [bucket.arnForObjects(incidentFiles)]);
    this.readRuns = new HiwariFunction(this, "ReadRuns", {
      ...common,
      entry: "runs-api/handler.ts",
      description: "hiwari runs-api: an incident's runs, and one run",
      environment: { REFUNDS_TABLE: props.refunds.tableName, RUNS_TABLE: runs.tableName },
    }).allow(["dynamodb:GetItem", "dynamodb:Query"], [runs.tableArn]);

    const accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.api = new RestApi(this, "Api", {
      description: "hiwari finance API: run and rerun incidents, read runs (IAM auth)",
      deployOptions: {
        stageName: API_STAGE, // the same in every deployment stage: each has its own stack and URL
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false, // request bodies hold subscriber data: never in the logs
        tracingEnabled: true,
      },
      defaultMethodOptions: { authorizationType: AuthorizationType.IAM },
      cloudWatchRole: true,
    });
    const body = new Model(this, "RunRequestModel", {
      restApi: this.api,
      contentType: "application/json",
      description: "POST /incidents/{incidentId}/runs, generated from the zod schema start-run validates with",
      schema: requestModelSchema(),
    });
    const validator = new RequestValidator(this, "Validator", {
      restApi: this.api,
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    // No test-invoke permission: the console's "Test" calls a method's integration without its IAM authorisation
    // (it needs only the API Gateway management API), so a function is reached through the deployed stage only.
    const integration = (fn: HiwariFunction) => new LambdaIntegration(fn.fn, { allowTestInvoke: false });
    const incident = this.api.root.addResource("incidents").addResource("{incidentId}");
    const incidentRuns = incident.addResource("runs");
    incidentRuns.addMethod("POST", integration(this.startRun), {
      requestModels: { "application/json": body },
      requestValidator: validator,
      requestParameters: { "method.request.path.incidentId": true },
    });
    incidentRuns.addMethod("GET", integration(this.readRuns), {
      requestValidator: validator,
      requestParameters: { "method.request.path.incidentId": true },
    });
    incidentRuns.addResource("{runId}").addMethod("GET", integration(this.readRuns), {
      requestValidator: validator,
      requestParameters: { "method.request.path.incidentId": true, "method.request.path.runId": true },
    });

    const proposalBody = new Model(this, "ProposalRequestModel", {
      restApi: this.api,
      contentType: "application/json",
      description: "POST /incidents/{incidentId}/proposals, generated from the zod schema proposals-api validates with",
      schema: jsonSchemaOf(ProposalRequestBodySchema),
    });
    const incidentParameter = { "method.request.path.incidentId": true };
    const proposals = incident.addResource("proposals");
    proposals.addMethod("POST", integration(this.proposals), {
      requestModels: { "application/json": proposalBody },
      requestValidator: validator,
      requestParameters: incidentParameter,
    });
    proposals.addMethod("GET", integration(this.proposals), {
      requestValidator: validator,
      requestParameters: incidentParameter,
    });
    const proposal = proposals.addResource("{proposalId}");
    const proposalParameters = { ...incidentParameter, "method.request.path.proposalId": true };
    proposal.addMethod("GET", integration(this.proposals), {
      requestValidator: validator,
      requestParameters: proposalParameters,
    });
    // No body model: the body may be empty, and whatever it holds is ignored (the approver is the IAM principal).
    proposal.addResource("approve").addMethod("POST", integration(this.approve), {
      requestValidator: validator,
      requestParameters: proposalParameters,
    });

    this.serverErrorsAlarm = alarmAbove(this, "ServerErrorsAlarm", {
      description: "the finance API answers 5xx: see the start-run / runs-api / proposals-api / approve-proposal logs",
      metric: this.api.metricServerError(),
    });

    Validations.of(this.api).acknowledge({
      id: "AwsSolutions::AwsSolutions-COG4",
      reason: "Every method is IAM-authorised (SigV4): finance and billing are AWS principals, not Cognito users.",
    });
    Validations.of(this.api).acknowledge({
      id: "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
      reason:
        "API Gateway's account-level CloudWatch role, needed for the execution logs (APIG6); the managed policy only lets API Gateway write logs.",
    });
    Validations.of(this.api).acknowledge({
      id: "AwsSolutions::AwsSolutions-APIG3",
      reason:
        "IAM-authorised only, so unsigned traffic is refused before any integration; no WAF rule would add to it.",
    });
  }
}

/** A request body's JSON Schema (draft 4, as API Gateway models take it), from the zod schema itself. */
export function jsonSchemaOf(zodSchema: z.ZodType): JsonSchema {
  const { $schema: _, ...schema } = z.toJSONSchema(zodSchema, { target: "draft-4", io: "input" }) as Record<
    string,
    unknown
  >;
  return { ...(schema as JsonSchema), schema: JsonSchemaVersion.DRAFT4 };
}

/** The runs POST body's JSON Schema. */
export const requestModelSchema = (): JsonSchema => jsonSchemaOf(RunRequestBodySchema);
