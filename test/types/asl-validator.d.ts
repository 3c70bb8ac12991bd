/** asl-validator ships no types: its one export, as its README documents it. */
declare module "asl-validator" {
  interface AslError {
    "Error code": string;
    Message: string;
  }
  export default function aslValidator(definition: unknown): { isValid: boolean; errors: AslError[] };
}
