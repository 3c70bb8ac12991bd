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
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The finance API: `POST /incidents/{incidentId}/runs` (start-run), `GET /incidents/{incidentId}/runs` and
 * `GET /incidents/{incidentId}/runs/{runId}` (runs-api). Every method is IAM-authorised (SigV4: finance's own
 * AWS credentials, as `hiwari rerun --api` signs). The POST body is checked twice with the same zod schema: by
 * API Gateway against the JSON Schema generated from it, and field by field (the incident too) in start-run.
 */
export class FinanceApi extends Construct {
  readonly api: RestApi;
  readonly startRun: HiwariFunction;
  readonly readRuns: HiwariFunction;
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
    this.startRun = new HiwariFunction(this, "StartRun", {
      ...common,
      entry: "start-run/handler.ts",
      description: "hiwari start-run: validate a run request, record the run, start its execution",
      environment: {
        REFUNDS_TABLE: props.refunds.tableName,
        RUNS_TABLE: runs.tableName,
        SNAPSHOT_BUCKET: bucket.bucketName,
        STATE_MACHINE_ARN: stateMachine.stateMachineArn,
      },
    })
      .allow(["dynamodb:GetItem", "dynamodb:PutItem"], [runs.tableArn])
      .allowObjects(["s3:GetObject", "s3:GetObjectVersion"], bucket, SNAPSHOTS_PREFIX)
      // The incident goes to prepare by reference: start-run leaves it among the run's files, and writes nothing else.
      .allow(["s3:PutObject"], [bucket.arnForObjects(`${RUNS_PREFIX}*/${INCIDENT_FILE}`)])
      .allow(["states:StartExecution"], [stateMachine.stateMachineArn]);
    acknowledgeWildcard(
      this.startRun.role,
      `${arnOf(bucket)}/${RUNS_PREFIX}*/${INCIDENT_FILE}`,
      "a run's incident document, under its run's prefix (runs/<incident>/<run>/), named by start-run",
    );
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
    const incidentRuns = this.api.root.addResource("incidents").addResource("{incidentId}").addResource("runs");
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

    this.serverErrorsAlarm = alarmAbove(this, "ServerErrorsAlarm", {
      description: "the finance API answers 5xx: see the start-run / runs-api logs",
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

/** The request body's JSON Schema (draft 4, as API Gateway models take it), from the zod schema itself. */
export function requestModelSchema(): JsonSchema {
  const { $schema: _, ...schema } = z.toJSONSchema(RunRequestBodySchema, { target: "draft-4", io: "input" }) as Record<
    string,
    unknown
  >;
  return { ...(schema as JsonSchema), schema: JsonSchemaVersion.DRAFT4 };
}
