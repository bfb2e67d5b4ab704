/**
 * The presets menu: the papers' recipes as the engine lists them (listPresets), each with its
 * citation and what the paper reports at which scale. Choosing one shows, for every file it needs
 * (ImageNet targets, centroids, metadata entries), a line saying which file to supply and a field for
 * its path (pre-filled where Sieve ships one). A preset whose files are all there loads into the
 * spec editor at once; "Load" and "Run" fill the files in and load (and run) it. The engine checks
 * the spec as any other: a wrong file shows its message, naming the spec path, under the editor.
 */
import { useEffect, useState } from 'react';
import type { PresetInfo } from '../../../native/api.js';
import { client } from '../client/client.js';
import { errorMessage, fmtInt } from '../format.js';
import { useFilters } from '../state/filters.js';
import { usePool } from '../state/pool.js';
import { initialAssetFiles, loadPresetSpec, missingAssets, runPreset, type AssetFiles } from './presets.js';

export function Presets() {
  const poolKey = usePool((p) => (p.status === 'open' ? `${p.pool?.path}:${p.pool?.rows}` : p.status));
  const running = useFilters((s) => s.running);
  const [presets, setPresets] = useState<PresetInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [chosen, setChosen] = useState('');
  const [files, setFiles] = useState<AssetFiles>({});

  // Asked again when the pool changes: MetaCLIP's t is scaled to the open pool's size.
  useEffect(() => {
    let live = true;
    client()
      .listPresets()
      .then((list) => live && (setPresets(list), setError(null)))
      .catch((e) => live && setError(errorMessage(e)));
    return () => {
      live = false;
    };
  }, [poolKey]);

  if (error) return <div className="error-text small">the presets could not be read: {error}</div>;
  if (!presets) return <div className="muted small">reading the presets…</div>;
  const preset = presets.find((p) => p.name === chosen) ?? null;
  const missing = preset ? missingAssets(preset, files) : [];

  const choose = (name: string) => {
    setChosen(name);
    const p = presets.find((x) => x.name === name);
    if (!p) return;
    const start = initialAssetFiles(p);
    setFiles(start);
    if (missingAssets(p, start).length === 0) loadPresetSpec(p, start);
  };

  return (
    <div className="preset-menu" data-testid="preset-menu">
      <label className="presets" title="the papers' recipes, as the engine lists them: choosing one loads it into the spec editor (once its files are given)">
        <span className="muted small">Presets</span>
        <select value={chosen} onChange={(e) => choose(e.target.value)} data-testid="presets">
          <option value="">choose a preset…</option>
          {presets.map((p) => (
            <option key={p.name} value={p.name} title={p.citation}>
              {p.title}
            </option>
          ))}
        </select>
      </label>
      {preset && (
        <div className="preset-details" data-testid="preset-details" data-preset={preset.name}>
          <div className="kind-citation" title="where the recipe comes from">
            {preset.citation}
          </div>
          <div className="muted small" data-testid="preset-reports" title="what the paper reports, at which scale">
            Reported: {preset.reports}
            {preset.poolRows !== null && ` · numbers scaled to this pool's ${fmtInt(preset.poolRows)} rows`}
          </div>
          {preset.assets.map((a) => (
            <div className="preset-asset" key={a.name} data-testid="preset-asset" data-asset={a.name} data-supplied={String(!!(files[a.name] ?? '').trim())}>
              <div className={`small ${(files[a.name] ?? '').trim() ? 'muted' : 'error-text'}`} data-testid="preset-asset-help">
                {a.supplied ? 'Uses' : 'Supply'} <b>{a.name}</b> ({a.paths.join(', ')}): {a.help}
              </div>
              <input
                type="text"
                spellCheck={false}
                value={files[a.name] ?? ''}
                placeholder={`/path/to/${a.name} file`}
                onChange={(e) => setFiles((f) => ({ ...f, [a.name]: e.target.value }))}
                data-testid={`preset-asset-${a.name}`}
                aria-label={`file for ${a.name}`}
                title={a.help}
              />
            </div>
          ))}
          <div className="add-row">
            <button
              disabled={missing.length > 0}
              onClick={() => loadPresetSpec(preset, files)}
              data-testid="preset-load"
              title={missing.length ? `supply the file for ${missing.join(', ')} first` : 'load this preset into the spec editor'}
            >
              Load
            </button>
            <button
              className="primary"
              disabled={missing.length > 0 || running}
              onClick={() => runPreset(preset, files)}
              data-testid="preset-run"
              title={missing.length ? `supply the file for ${missing.join(', ')} first` : 'load this preset and run it once the engine accepts it'}
            >
              Run preset
            </button>
          </div>
        </div>
      )}
    </div>
  );
}
