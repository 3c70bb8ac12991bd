import { code as isoCurrency } from "currency-codes";

/** ISO 4217 alphabetic codes as the runtime's Intl lists them (`Intl.supportedValuesOf('currency')`). */
const KNOWN = new Set(Intl.supportedValuesOf("currency"));

/** True for three capital letters that Intl lists as a currency. */
export function isCurrencyCode(code: string): boolean {
  return /^[A-Z]{3}$/.test(code) && KNOWN.has(code);
}

/**
 * Digits after the decimal point of a currency's minor unit, as ISO 4217 publishes them (the currency-codes
 * package, ISO's list one): JPY 0, USD 2, BHD 3, HUF 2. Not Intl's: CLDR gives display digits, which differ
 * (HUF 0, IQD 0), and would show such amounts 100 or 1,000 times too large. A code ISO's list lacks falls back
 * to Intl's.
 */
export function minorUnitDigits(currency: string): number {
  return (
    isoCurrency(currency)?.digits ??
    new Intl.NumberFormat("en-US", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ??
    2
  );
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
