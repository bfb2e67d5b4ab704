/**
 * Named specs from the papers, for the filter panel's "Presets" select. The lead keeps this list by
 * hand until the engine has a presets method; choosing one loads its spec into the JSON editor
 * (the engine checks it as usual) and runs nothing.
 */
export interface Preset {
  name: string;
  label: string;
  /** where the definition comes from */
  citation: string;
  spec: unknown;
}

export const PRESETS: readonly Preset[] = [
  {
    name: 'datacomp-small-best',
    label: 'DataComp small: CLIP L/14 top 30%',
    citation: 'DataComp (Gadre et al., 2023), Table 3',
    spec: { filter: 'clip_score', arch: 'l14', fraction: 0.3 },
  },
  {
    name: 'laion2b',
    label: 'LAION-2B (CLD3 English, B/32 >= 0.28)',
    citation: 'Schuhmann et al., 2022 as DataComp reproduces it',
    spec: { filter: 'laion2b' },
  },
  {
    name: 'basic-then-clip',
    label: 'Basic, then CLIP B/32 top 30%',
    citation: 'DataComp (Gadre et al., 2023)',
    spec: { then: [{ filter: 'basic' }, { filter: 'clip_score', arch: 'b32', fraction: 0.3 }] },
  },
];
