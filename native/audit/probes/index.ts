/** Bias probes: attribute families per image and caption, and held-out linear probes on two sets. */
export {
  computeAttributes,
  loadFamily,
  attributesDir,
  ATTRIBUTE_FAMILIES,
  ATTRIBUTES_VERSION,
  SIZE_FEATURES,
  TEXT_FEATURES,
  type AttributeFamily,
  type AttributeOptions,
  type AttributeSummary,
  type FamilyMeta,
} from './attributes.js';
export { runProbes, balance, type ProbeOptions, type ProbeReport, type FamilyProbe, type Accuracy } from './probe.js';
export { fitLogistic, solveProblems, type Problem, type SolveOptions, type SolveResult, type ProblemFit } from './logistic.js';
export { COLOR_FEATURES, FREQUENCY_FEATURES, STRUCTURE_FEATURES } from './pixels.js';
