import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatMinor, isCurrencyCode, minorUnitDigits } from "../../../shared/money/currency";

describe("minorUnitDigits", () => {
  it("knows the minor unit of yen, dollars and dinars", () => {
    expect(minorUnitDigits("JPY")).toBe(0);
    expect(minorUnitDigits("USD")).toBe(2);
    expect(minorUnitDigits("BHD")).toBe(3);
  });

  it("takes ISO 4217's minor unit where Intl's display digits differ (HUF 2, IQD 3, not 0)", () => {
    expect(minorUnitDigits("HUF")).toBe(2);
    expect(minorUnitDigits("IQD")).toBe(3);
    expect(formatMinor(12345n, "HUF")).toBe("123.45 HUF");
  });
});

describe("formatMinor", () => {
  it("shows yen without decimals and dollars with cents, grouped", () => {
    expect(formatMinor(1234567n, "JPY")).toBe("1,234,567 JPY");
    expect(formatMinor("1234567", "USD")).toBe("12,345.67 USD");
    expect(formatMinor(-5n, "USD")).toBe("-0.05 USD");
    expect(formatMinor(0n, "JPY")).toBe("0 JPY");
    expect(formatMinor(1005n, "BHD")).toBe("1.005 BHD");
  });

  it("is exact beyond floating point's integers", () => {
    expect(formatMinor(2n ** 64n + 1n, "USD")).toBe("184,467,440,737,095,516.17 USD");
  });

  it("reads back as the amount it shows (digits only)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.constantFrom("JPY", "USD", "BHD"), (a, c) => {
        const shown = formatMinor(a, c);
        expect(shown.endsWith(` ${c}`)).toBe(true);
        expect(BigInt(shown.replace(` ${c}`, "").replace(/[,.]/g, ""))).toBe(a);
        expect(isCurrencyCode(c)).toBe(true);
      }),
    );
  });
});
