/**
 * `Promise.withResolvers` (ES2024, Node 22) for Node 20: aws-local-stepfunctions calls it in every Task state.
 * Imported for its effect, before the interpreter runs; a no-op where the runtime has it.
 */
interface WithResolvers {
  withResolvers?: <T>() => { promise: Promise<T>; resolve: (value: T) => void; reject: (reason?: unknown) => void };
}

const promise = Promise as unknown as WithResolvers;
promise.withResolvers ??= <T>() => {
  let resolve!: (value: T) => void;
  let reject!: (reason?: unknown) => void;
  const p = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise: p, resolve, reject };
};
