/** ISO 4217 alphabetic codes as the runtime's Intl lists them (`Intl.supportedValuesOf('currency')`). */
const KNOWN = new Set(Intl.supportedValuesOf("currency"));

/** True for three capital letters that Intl lists as a currency. */
export function isCurrencyCode(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && KNOWN.has(code);
}
