import { describe, expect, it } from "vitest";
import { HiwariError, PermanentError, TransientError } from "../../shared/errors";

class ExamplePermanentError extends PermanentError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ExamplePermanentError";
  }
}
class ExampleTransientError extends TransientError {}

describe("HiwariError", () => {
  it("is an Error of hiwari's, permanent or transient by the base it extends", () => {
    const permanent = new ExamplePermanentError("cannot mend");
    const transient = new ExampleTransientError("try again");

    expect(permanent).toBeInstanceOf(Error);
    expect(permanent).toBeInstanceOf(HiwariError);
    expect([permanent.permanent, transient.permanent]).toEqual([true, false]);
    expect(permanent.message).toBe("cannot mend");
  });

  it("keeps the error it wraps as its cause (ES2022)", () => {
    const cause = new Error("ValidationException");

    const error = new ExamplePermanentError("refused", { cause });

    expect(error.cause).toBe(cause);
    expect(new ExamplePermanentError("alone").cause).toBeUndefined();
  });

  it("names itself after its class: the literal a subclass sets, else the class's own name", () => {
    expect(new ExamplePermanentError("x").name).toBe("ExamplePermanentError");
    expect(new ExampleTransientError("x").name).toBe("ExampleTransientError");
  });
});
