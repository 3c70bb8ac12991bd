import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { Template } from "aws-cdk-lib/assertions";
import type { CfnTable, Table } from "aws-cdk-lib/aws-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DynamoDbLocal, localClientConfig, startDynamoDbLocal } from "../../../../bin/io/dynamodb-local";
import { createTables, tableDefinitions } from "../../../../functions/commons/dynamodb/create-tables";
import { createHiwariApp } from "../../../../infra/hiwari-app";

// The local tables (DynamoDB Local, for `hiwari run`, the store tests and the pipeline harness) held to the CDK
// ones: the prod app synthesised once, functions not bundled (as test/infra/hiwari-stack.test.ts does), and each
// AWS::DynamoDB::Table's properties set beside the CreateTable input of the same table.

const cdkJson = JSON.parse(readFileSync(new URL("../../../../cdk.json", import.meta.url), "utf8")) as {
  context?: Record<string, unknown>;
};

type Properties = Record<string, unknown>;
let outdir: string;
let cloud: { refunds: Properties; runs: Properties };
beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), "hiwari-cdk-"));
  const { stack } = createHiwariApp({
    context: { ...cdkJson.context, stage: "prod", "aws:cdk:bundling-stacks": [] },
    outdir,
    builtinCloudFormationValidation: false,
  });
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Properties: Properties }>;
  const propertiesOf = (table: Table) =>
    resources[stack.getLogicalId(table.node.defaultChild as CfnTable)]?.Properties as Properties;
  cloud = { refunds: propertiesOf(stack.refunds.table), runs: propertiesOf(stack.runs.table) };
});
afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

/**
 * Template properties that DynamoDB Local does not need, each with why; any other property must be compared,
 * so a setting added to a construct (a TTL attribute, a local index, a table class…) fails this test until
 * create-tables.ts honours it or it is listed here.
 */
const CLOUD_ONLY: Record<string, string> = {
  PointInTimeRecoverySpecification: "backups of AWS data; a local table is scratch",
  SSESpecification: "encryption at rest with the AWS managed key; DynamoDB Local has no KMS",
  DeletionProtectionEnabled: "guards a stage's data; local tables are created and thrown away by tests",
};

/** What the two sides say about what DynamoDB Local honours, in one shape, lists in a stable order. */
interface Shape {
  keySchema: string[];
  attributes: string[];
  billingMode: string | undefined;
  globalIndexes: string[];
  localIndexes: string[];
  stream: string | undefined;
  timeToLive: string | undefined;
}

type KeyElement = { AttributeName?: string; KeyType?: string };
type Index = {
  IndexName?: string;
  KeySchema?: KeyElement[];
  Projection?: { ProjectionType?: string; NonKeyAttributes?: string[] };
};
const keys = (schema: KeyElement[] = []) => schema.map((k) => `${k.AttributeName} ${k.KeyType}`);
const indexes = (list: Index[] = []) =>
  list
    .map((i) => {
      const { ProjectionType, NonKeyAttributes } = i.Projection ?? {};
      const projected = NonKeyAttributes ? ` (${[...NonKeyAttributes].sort().join(", ")})` : "";
      return `${i.IndexName}: ${keys(i.KeySchema).join(", ")}; projection ${ProjectionType}${projected}`;
    })
    .sort();

/** An AWS::DynamoDB::Table's properties, as a Shape; fails on a property neither compared nor listed as cloud-only. */
function cloudShape(p: Properties): Shape {
  const compared = [
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "TimeToLiveSpecification",
  ];
  expect(Object.keys(p).filter((k) => !compared.includes(k) && !(k in CLOUD_ONLY))).toEqual([]);
  const ttl = p.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
  return {
    keySchema: keys(p.KeySchema as KeyElement[]),
    attributes: (p.AttributeDefinitions as { AttributeName: string; AttributeType: string }[])
      .map((a) => `${a.AttributeName} ${a.AttributeType}`)
      .sort(),
    // CloudFormation's default is PROVISIONED, as CreateTable's is.
    billingMode: (p.BillingMode as string | undefined) ?? "PROVISIONED",
    globalIndexes: indexes(p.GlobalSecondaryIndexes as Index[]),
    localIndexes: indexes(p.LocalSecondaryIndexes as Index[]),
    // In a template, a stream exists exactly when its view type is given.
    stream: (p.StreamSpecification as { StreamViewType?: string } | undefined)?.StreamViewType,
    timeToLive: ttl?.Enabled ? ttl.AttributeName : undefined,
  };
}

/** A CreateTable input, as a Shape (create-tables.ts sets no TTL: a TTL in the template shows up as a difference). */
function localShape(input: CreateTableCommandInput): Shape {
  return {
    keySchema: keys(input.KeySchema),
    attributes: (input.AttributeDefinitions ?? []).map((a) => `${a.AttributeName} ${a.AttributeType}`).sort(),
    billingMode: input.BillingMode ?? "PROVISIONED",
    globalIndexes: indexes(input.GlobalSecondaryIndexes),
    localIndexes: indexes(input.LocalSecondaryIndexes),
    stream: input.StreamSpecification?.StreamEnabled ? input.StreamSpecification.StreamViewType : undefined,
    timeToLive: undefined,
  };
}

const local = () => {
  const [refunds, runs] = tableDefinitions({ refunds: "local-refunds", runs: "local-runs" });
  if (!refunds || !runs) throw new Error("createTables defines fewer than two tables");
  return { refunds, runs };
};

describe("tableDefinitions: the local tables are the CDK tables, as far as DynamoDB Local can tell", () => {
  it("defines the two tables the store uses, under the names it is given", () => {
    expect(tableDefinitions({ refunds: "a-refunds", runs: "a-runs" }).map((d) => d.TableName)).toEqual([
      "a-refunds",
      "a-runs",
    ]);
  });

  it.each(["refunds", "runs"] as const)(
    "%s table: keys, attributes, billing, indexes, stream and TTL agree",
    (name) => {
      // Act
      const cdk = cloudShape(cloud[name]);
      const mine = localShape(local()[name]);

      // Assess
      expect(mine).toEqual(cdk);
    },
  );

  it("states the refunds table's shape itself, so a change on both sides at once is still seen", () => {
    expect(localShape(local().refunds)).toEqual({
      keySchema: ["pk HASH", "sk RANGE"],
      attributes: ["gsi1pk S", "gsi1sk S", "pk S", "sk S"],
      billingMode: "PAY_PER_REQUEST",
      globalIndexes: ["gsi1: gsi1pk HASH, gsi1sk RANGE; projection ALL"],
      localIndexes: [],
      stream: "NEW_AND_OLD_IMAGES",
      timeToLive: undefined,
    });
    expect(localShape(local().runs)).toMatchObject({ globalIndexes: [], stream: undefined });
  });

  it("notices a difference: another projection, a stream view, a TTL or an unlisted property", () => {
    // Prepare
    const refunds = cloud.refunds;
    const [index] = refunds.GlobalSecondaryIndexes as Index[];
    const otherProjection = {
      ...refunds,
      GlobalSecondaryIndexes: [{ ...index, Projection: { ProjectionType: "KEYS_ONLY" } }],
    };

    // Act / Assess
    expect(cloudShape(otherProjection)).not.toEqual(localShape(local().refunds));
    expect(cloudShape({ ...refunds, StreamSpecification: { StreamViewType: "NEW_IMAGE" } })).not.toEqual(
      localShape(local().refunds),
    );
    expect(
      cloudShape({ ...refunds, TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true } }),
    ).not.toEqual(localShape(local().refunds));
    expect(() => cloudShape({ ...refunds, TableClass: "STANDARD_INFREQUENT_ACCESS" })).toThrow(/TableClass/);
  });
});

describe("createTables on DynamoDB Local", () => {
  let db: DynamoDbLocal;
  beforeAll(async () => {
    db = await startDynamoDbLocal(); // in memory, this describe's own
  }, 120_000);
  afterAll(async () => {
    await db?.stop();
  });

  it("creates the tables that are missing and leaves the ones there, with their items, as they are", {
    timeout: 60_000,
  }, async () => {
    // Arrange: the runs table there already, with an item, and its creation time; the refunds table missing
    const tables = { refunds: "ct-refunds", runs: "ct-runs" };
    const [, runsDefinition] = tableDefinitions(tables);
    await db.client.send(new CreateTableCommand(runsDefinition as CreateTableCommandInput));
    const item = { pk: { S: "p" }, sk: { S: "s" } };
    await db.client.send(new PutItemCommand({ TableName: tables.runs, Item: item }));
    const created = async (name: string) =>
      (await db.client.send(new DescribeTableCommand({ TableName: name }))).Table?.CreationDateTime?.getTime();
    const runsCreated = await created(tables.runs);

    // Act: twice, as every start of `hiwari run` does, counting the CreateTable calls
    let creates = 0;
    const client = new DynamoDBClient(localClientConfig(db.endpoint));
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "CreateTableCommand") creates++;
        return next(args);
      },
      { step: "initialize" },
    );
    await createTables(client, tables);
    await createTables(client, tables);
    client.destroy();

    // Assess: the refunds table as defined (its index and stream); the runs table the same one, its item kept
    const refunds = (await db.client.send(new DescribeTableCommand({ TableName: tables.refunds }))).Table;
    expect(refunds?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(["gsi1"]);
    expect(refunds?.StreamSpecification?.StreamViewType).toBe("NEW_AND_OLD_IMAGES");
    expect(await created(tables.runs)).toBe(runsCreated);
    expect(creates).toBe(1); // the missing table's; none refused for a table already there
    expect((await db.client.send(new GetItemCommand({ TableName: tables.runs, Key: item }))).Item).toEqual(item);
  });
});
