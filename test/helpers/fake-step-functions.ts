import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";

export const STATE_MACHINE = "arn:aws:states:ap-northeast-1:123456789012:stateMachine:hiwari-runs";

/**
 * Step Functions as its API documents StartExecution for a standard workflow: a name is used once; the same name
 * with the same input answers as the first call did (the execution is not started again); another input under
 * that name is ExecutionAlreadyExists. `calls` keeps every StartExecution sent (what a caller did, where
 * `executions` keeps what Step Functions would run); `failNext` makes the next call throw, starting nothing.
 */
export function fakeStepFunctions() {
  const sfn = new SFNClient({ region: "ap-northeast-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  const executions = new Map<string, { input: string; startDate: Date }>();
  const calls: { name: string; input: string }[] = [];
  const failures: Error[] = [];
  mockClient(sfn)
    .on(StartExecutionCommand)
    .callsFake((request) => {
      const name = request.name as string;
      calls.push({ name, input: request.input as string });
      const failure = failures.shift();
      if (failure) throw failure;
      const seen = executions.get(name);
      if (seen && seen.input !== request.input)
        throw new ExecutionAlreadyExists({
          message: `Execution Already Exists: '${name}'`,
          $metadata: { httpStatusCode: 400 },
        });
      if (!seen) executions.set(name, { input: request.input as string, startDate: new Date() });
      const execution = executions.get(name) as { startDate: Date };
      return {
        executionArn: `${STATE_MACHINE.replace(":stateMachine:", ":execution:")}:${name}`,
        startDate: execution.startDate,
      };
    });
  /** The StartExecution calls sent for the execution `name`. */
  const callsOf = (name: string) => calls.filter((c) => c.name === name);
  return { sfn, executions, calls, callsOf, failNext: (error: Error) => failures.push(error) };
}
