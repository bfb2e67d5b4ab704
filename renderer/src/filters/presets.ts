/**
 * The papers' presets as the engine lists them (SieveApi.listPresets): filling a preset's asset
 * placeholders (`{"asset": NAME}`) with the files the user gave, and running a preset once the
 * engine has accepted its spec. The list itself, with citations and what each paper reports, lives
 * in the engine (native/filters/papers/presets.ts); nothing here repeats it.
 */
import type { PresetInfo } from '../../../native/api.js';
import { useFilters } from '../state/filters.js';
import { loadPreset, runSpec, specText } from '../state/filterActions.js';

/** The files given so far, by asset name (blank fields left out). */
export type AssetFiles = Record<string, string>;

/** The assets still without a file: neither typed in nor shipped with Sieve. */
export function missingAssets(preset: PresetInfo, files: AssetFiles): string[] {
  return preset.assets.filter((a) => !(files[a.name] ?? '').trim()).map((a) => a.name);
}

/** The fields' starting values: the shipped file where Sieve has one. */
export function initialAssetFiles(preset: PresetInfo): AssetFiles {
  return Object.fromEntries(preset.assets.filter((a) => a.defaultFile).map((a) => [a.name, a.defaultFile as string]));
}

/** The preset's spec with each `{"asset": NAME}` replaced by the file given for NAME. */
export function fillAssets(spec: unknown, files: AssetFiles): unknown {
  if (Array.isArray(spec)) return spec.map((x) => fillAssets(x, files));
  if (spec && typeof spec === 'object') {
    const o = spec as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && typeof o.asset === 'string' && files[o.asset]?.trim()) return files[o.asset].trim();
    return Object.fromEntries(keys.map((k) => [k, fillAssets(o[k], files)]));
  }
  return spec;
}

/** Load the filled spec into the JSON editor (the engine checks it as any typed spec). */
export function loadPresetSpec(preset: PresetInfo, files: AssetFiles): void {
  loadPreset(fillAssets(preset.spec, files));
}

/**
 * Load the preset and run it as soon as the engine has judged the loaded text: Run's own rule
 * (runSpec runs only an accepted spec), so a preset whose file is wrong shows the engine's message
 * under the editor instead of running.
 */
export function runPreset(preset: PresetInfo, files: AssetFiles): void {
  loadPresetSpec(preset, files);
  const text = specText(useFilters.getState());
  const settle = (s: ReturnType<typeof useFilters.getState>) => s.check?.text === text && s.check.status !== 'pending';
  const go = () => {
    if (useFilters.getState().check?.status === 'ok') void runSpec();
  };
  if (settle(useFilters.getState())) return go();
  const stop = useFilters.subscribe((s) => {
    if (specText(s) !== text) return stop(); // the spec changed meanwhile: the user took over
    if (settle(s)) {
      stop();
      go();
    }
  });
}
