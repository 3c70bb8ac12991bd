import { DynamoDBClient, DynamoDBServiceException } from "@aws-sdk/client-dynamodb";
import { localClientConfig } from "../../../bin/io/dynamodb-local";
import { ACCOUNT, PARTITION, REGION } from "./deployed-template";
import type { AwsCallLog, Principal } from "./iam-policy";

/** The ARN IAM authorizes a call on: the table's, or its index's for a Query or Scan of an index. */
export function tableArn(table: string, index?: string): string {
  const arn = `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${table}`;
  return index ? `${arn}/index/${index}` : arn;
}

type Input = Record<string, unknown>;
const TRANSACT_WRITE_ACTIONS: Record<string, string> = {
  Put: "dynamodb:PutItem",
  Update: "dynamodb:UpdateItem",
  Delete: "dynamodb:DeleteItem",
  ConditionCheck: "dynamodb:ConditionCheckItem",
};

/**
 * The IAM actions and resources one DynamoDB operation needs: `dynamodb:<Operation>` on each table it names (a
 * batch may name several), on the index for a Query or Scan of one; a transaction needs the item action of each of
 * its parts (there is no `dynamodb:TransactWriteItems` action).
 */
export function dynamoDbActions(operation: string, input: Input): { action: string; resource: string }[] {
  const name = operation.replace(/Command$/, "");
  if (name === "BatchGetItem" || name === "BatchWriteItem")
    return Object.keys((input.RequestItems ?? {}) as Input).map((t) => ({
      action: `dynamodb:${name}`,
      resource: tableArn(t),
    }));
  if (name === "TransactWriteItems")
    return ((input.TransactItems ?? []) as Input[]).flatMap((item) =>
      Object.entries(item).map(([kind, part]) => ({
        action: TRANSACT_WRITE_ACTIONS[kind] ?? `dynamodb:${kind}`,
        resource: tableArn(String((part as Input).TableName)),
      })),
    );
  if (name === "TransactGetItems")
    return ((input.TransactItems ?? []) as { Get: Input }[]).map((item) => ({
      action: "dynamodb:GetItem",
      resource: tableArn(String(item.Get.TableName)),
    }));
  const table = input.TableName as string | undefined;
  if (table === undefined) return [{ action: `dynamodb:${name}`, resource: "*" }];
  const index = name === "Query" || name === "Scan" ? (input.IndexName as string | undefined) : undefined;
  return [{ action: `dynamodb:${name}`, resource: tableArn(table, index) }];
}

/**
 * A real DynamoDBClient on DynamoDB Local for one principal (a function's role): a middleware records each call as
 * IAM would authorize it (`dynamodb:<Action>` on the table or index ARN) and, for a call outside the role's
 * policies, answers AccessDeniedException as DynamoDB does, before anything reaches the table.
 */
export function recordingDynamoDbClient(endpoint: string, principal: Principal, log: AwsCallLog): DynamoDBClient {
  const client = new DynamoDBClient(localClientConfig(endpoint));
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = context.commandName ?? "unknown";
      for (const { action, resource } of dynamoDbActions(operation, args.input as Input)) {
        const call = log.record(principal, operation, action, resource);
        if (log.refuses(call))
          throw new DynamoDBServiceException({
            name: "AccessDeniedException",
            $fault: "client",
            message: `User: ${principal.roleId} is not authorized to perform: ${action} on resource: ${resource}`,
            $metadata: { httpStatusCode: 400 },
          });
      }
      return next(args);
    },
    { step: "initialize", name: "recordIamCalls" },
  );
  return client;
}
