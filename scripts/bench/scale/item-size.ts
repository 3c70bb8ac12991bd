import type { AttributeValue } from "@aws-sdk/client-dynamodb";

/** DynamoDB's largest item: 400 KB, counted as 409,600 bytes of attribute names and values. */
export const MAX_ITEM_BYTES = 400 * 1024;

const utf8 = (text: string) => Buffer.byteLength(text, "utf8");

/**
 * A number's size as DynamoDB counts it: 1 byte per two significant digits, plus 1 (leading and trailing zeroes
 * trimmed), plus 1 for a negative number.
 */
function numberBytes(text: string): number {
  const digits = text
    .replace(/^[-+]/, "")
    .replace(/[eE].*$/, "")
    .replace(".", "")
    .replace(/^0+/, "")
    .replace(/0+$/, "");
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1 + (text.startsWith("-") ? 1 : 0);
}

/** The size of one attribute value, by DynamoDB's item size rules. */
export function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.B !== undefined) return value.B.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, s) => sum + utf8(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, n) => sum + numberBytes(n), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, b) => sum + b.length, 0);
  // A list or a map: 3 bytes, and 1 byte per element besides the elements (and a map's names).
  if (value.L !== undefined) return 3 + value.L.reduce((sum, v) => sum + 1 + valueBytes(v), 0);
  if (value.M !== undefined)
    return 3 + Object.entries(value.M).reduce((sum, [k, v]) => sum + 1 + utf8(k) + valueBytes(v), 0);
  throw new Error(`item size: an attribute value of no known type: ${Object.keys(value).join(", ")}`);
}

/**
 * The size DynamoDB counts against its 400 KB item limit: the UTF-8 length of every attribute name plus the size
 * of its value (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html).
 */
export function itemBytes(item: Record<string, AttributeValue>): number {
  let bytes = 0;
  for (const name in item) bytes += utf8(name) + valueBytes(item[name] as AttributeValue);
  return bytes;
}
