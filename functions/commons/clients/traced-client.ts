import { tracer } from "../powertools/powertools";

/**
 * An AWS SDK client built on first use and then the same one for the container's life, so warm invocations reuse
 * its connections, and traced once by the Powertools tracer. Built lazily: a function builds only the clients it
 * calls, and a module that imports one builds nothing (the tests and `hiwari run` pass their own adapters). One
 * module a service: the functions' bundles leave the SDK to the runtime, so each SDK package imported is loaded at
 * cold start, and a function loads only the ones it calls (S3's took 0.18 s to load on a busy development machine).
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
