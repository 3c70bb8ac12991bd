/**
 * An IAM Identity Center session: `arn:<partition>:sts::<account>:assumed-role/AWSReservedSSO_<permission set>_<hash>/<session>`.
 * Identity Center names the session after the user (their user name), and the user cannot choose another.
 */
const IDENTITY_CENTER_SESSION =
  /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\/AWSReservedSSO_[\w+=,.@-]+_[0-9a-f]+\/([\w+=,.@-]+)$/;

/**
 * The person behind a principal, as four eyes compare them: for an IAM Identity Center session, its user
 * (`identity-center-user:<session name>`), whichever permission set or account it came through; anything else (an IAM
 * user's ARN, another role's session, a name on the command line) as it is. So one user through two permission sets
 * is one person; one human with two IAM users, or sessions of a role whose session name they choose, still counts
 * as two (docs/security.md).
 */
export function principalPerson(principal: string): string {
  const session = IDENTITY_CENTER_SESSION.exec(principal.trim());
  return session ? `identity-center-user:${session[1]}` : principal;
}
