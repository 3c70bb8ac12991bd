import { tracer } from "../powertools/powertools";

/**
 * An AWS SDK client built on first use and then the same one for the container's life, so warm invocations reuse
 * its connections, and traced once by the Powertools tracer. Built lazily: a function builds only the clients it
 * calls, and a module that imports one builds nothing (the tests and `hiwari run` pass their own adapters). One
 * module a service: each function's bundle carries the SDK, and only the clients its code reaches (a module that
 * built several would put every client into every bundle, and each is loaded at cold start).
 *
 * @param build - makes the client (called once, on the first call of the getter)
 * @returns the getter
 */
export function tracedClient<C>(build: () => C): () => C {
  let client: C | undefined;
  return () => {
    client ??= tracer.captureAWSv3Client(build());
    return client;
  };
}
