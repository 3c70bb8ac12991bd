import type { StoreTally } from "./counting-store";
import type { StepName } from "./limits";
import type { ObjectTally } from "./measured-run-files";

/** What one step process measured, written as JSON to the file the orchestrator names. */
export interface StepResult {
  step: StepName;
  /** The process's name among its step's (`compute-3`). */
  name: string;
  invocations: number;
  /** Peak resident set of the whole process (`process.resourceUsage().maxRSS`, KiB), and before any invocation. */
  maxRssKB: number;
  loadedRssKB: number;
  /** From the first invocation's start to the last one's end, and the longest invocation. */
  workSeconds: number;
  maxInvocationSeconds: number;
  /** JSON sizes (UTF-8) of the events the handler was invoked with, and of what it returned. */
  maxInputBytes: number;
  maxOutputBytes: number;
  totalOutputBytes: number;
  /** The last invocation's output (prepare's and complete's are the ones read). */
  lastOutput: unknown;
  store: StoreTally;
  files: ObjectTally;
}
