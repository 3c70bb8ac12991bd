import { SOURCE_BUILD } from "../../shared/pipeline/run-steps";

/**
 * Which build of hiwari this code is: the hash of its sources the bundler stamps in as `process.env.HIWARI_BUILD`
 * (scripts/source-build.mjs: the functions' bundles, the command line's), else SOURCE_BUILD (run from its sources,
 * as in the tests). The run steps take it (`StepDeps.build`).
 */
export const BUILD = process.env.HIWARI_BUILD ?? SOURCE_BUILD;
