/**
 * The bias probes' report: plain data (no runtime imports), so that the API contract can name it.
 */

export interface Accuracy {
  mean: number;
  /** sample sd over the folds */
  sd: number;
  folds: number[];
}

export interface FamilyProbe {
  name: string;
  /** what the family measures and how */
  description: string;
  /** the features the probe used, in column order */
  features: string[];
  /** features of the family left out because most rows lack them */
  unusedFeatures: string[];
  accuracy: Accuracy;
  /** accuracy of a classifier that guesses (the sets are balanced) */
  chance: number;
  /**
   * binomial sd of a chance-level accuracy over all n[0] + n[1] held-out rows. Cross-validated
   * accuracies of a null problem spread about 1.2-1.4x wider (folds share training rows; measured
   * on simulated nulls), and at most sqrt(0.25 / fold size): `control` shows one draw of the null.
   */
  chanceSd: number;
  /** rows per set after balancing */
  n: [number, number];
  /** rows per set left out because they lack the family's values */
  missing: [number, number];
  /** standardised coefficients (positive: more of it in set A), mean and sd over folds; null for CLIP */
  weights: { feature: string; mean: number; sd: number }[] | null;
  /** the same probe on permuted labels; null when turned off */
  control: Accuracy | null;
  converged: boolean;
  iterations: number;
  seconds: number;
}

export interface ProbeReport {
  version: 1;
  sets: {
    mode: 'kept-vs-dropped' | 'a-only-vs-b-only';
    a: { label: string; rows: number };
    b: { label: string; rows: number };
    /** rows in both sets (a-only-vs-b-only), left out */
    overlap: number | null;
  };
  folds: number;
  seed: number;
  l2: number;
  families: FamilyProbe[];
  skipped: { name: string; reason: string }[];
  seconds: number;
}
