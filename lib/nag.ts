import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
// cdk-nag names an IAM5 finding after the resource flattened by this very function; using it
// keeps acknowledgements exact (v3 has no prefix matching) without copying its format.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';

/**
 * Acknowledges AwsSolutions-IAM5 for one wildcard resource of a policy in `scope`'s stack.
 * `resource` may hold tokens of the same stack (pseudo parameters, local attributes).
 */
export function acknowledgeWildcardResource(
  scope: IConstruct,
  resource: unknown,
  reason: string,
): void {
  const flat = flattenCfnReference(Stack.of(scope).resolve(resource));
  if (!flat.includes('*')) return;
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${flat}]`, reason });
}

/** Acknowledges AwsSolutions-IAM5 for one wildcard action, e.g. `s3:GetObject*`. */
export function acknowledgeWildcardAction(scope: IConstruct, action: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Action::${action}]`, reason });
}
