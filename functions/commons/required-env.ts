/** A setting CDK gives the function; missing means a broken deployment, said by name. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment: ${name} is not set`);
  return value;
}
