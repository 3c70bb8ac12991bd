import { App, type AppProps, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { HiwariStack } from "./hiwari-stack";
import { stageConfigFromContext } from "./stage-config";

export interface HiwariApp {
  readonly app: App;
  readonly stack: HiwariStack;
}

/**
 * The hiwari CDK app: one {@link HiwariStack} for the stage named by the `stage` context value
 * (`dev` by default), checked by cdk-nag's AWS Solutions rules when it is synthesised.
 *
 * `infra/app.ts` calls this with no props (the CLI passes context through the environment); tests
 * pass `context` directly.
 */
export function createHiwariApp(props: AppProps = {}): HiwariApp {
  const app = new App(props);
  const stage = stageConfigFromContext(app.node);
  const stack = new HiwariStack(app, "HiwariStack", {
    // One CloudFormation stack per stage, so deploying dev settings can never update the prod stack.
    stackName: `hiwari-${stage.stageName}`,
    description: `hiwari pro-rated refunds (${stage.stageName})`,
    stage,
  });
  // cdk-nag 3 is a policy-validation plugin: it runs during synthesis and any unacknowledged
  // finding, warning or error, fails the synth. Acknowledge a finding next to the construct it is
  // about, with the reason: Validations.of(construct).acknowledge({ id: "AwsSolutions-…", reason }).
  // None is needed so far.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}
