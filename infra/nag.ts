import { type CfnElement, Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/**
 * cdk-nag reports each wildcard resource of a policy as its own finding, named after the resource as it appears
 * in the template (`<LogicalId.Arn>/runs/*`). These helpers acknowledge exactly one such wildcard, with its reason,
 * so any other wildcard added later still fails the synth.
 */

/** `<LogicalId.Arn>`, as cdk-nag prints a resource's ARN. */
export function arnOf(resource: IConstruct): string {
  const element = resource.node.defaultChild as CfnElement;
  return `<${Stack.of(resource).getLogicalId(element)}.Arn>`;
}

/** Acknowledges the wildcard `resource` (in cdk-nag's notation) in the policies of `scope`, for `reason`. */
export function acknowledgeWildcard(scope: IConstruct, resource: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-IAM5[Resource::${resource}]`, reason });
}
