/** ISO 4217 alphabetic codes as the runtime's Intl lists them (`Intl.supportedValuesOf('currency')`). */
const KNOWN = new Set(Intl.supportedValuesOf("currency"));

/** True for three capital letters that Intl lists as a currency. */
export function isCurrencyCode(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && KNOWN.has(code);
}

/** Digits after the decimal point of a currency's minor unit: JPY 0, USD 2, BHD 3 (ISO 4217, as Intl knows it). */
export function minorUnitDigits(currency: string): number {
  return new Intl.NumberFormat("en-US", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/**
 * An amount in minor units as people read it, exactly (no floating point): `1,234 JPY`, `-12.05 USD`. Any size.
 */
export function formatMinor(amount: bigint | string, currency: string): string {
  const value = BigInt(amount);
  const digits = minorUnitDigits(currency);
  const sign = value < 0n ? "-" : "";
  const abs = value < 0n ? -value : value;
  const unit = 10n ** BigInt(digits);
  const whole = (abs / unit).toLocaleString("en-US");
  const fraction = digits > 0 ? `.${(abs % unit).toString().padStart(digits, "0")}` : "";
  return `${sign}${whole}${fraction} ${currency}`;
}
