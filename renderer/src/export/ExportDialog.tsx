/**
 * The export dialog of a decision: the format (DataComp .npy, parquet, csv, img2dataset tsv / txt,
 * or webdataset shards when the pool has images), the columns for parquet / csv (uid always first),
 * the destination path, overwrite; progress with cancel while it runs; then the written path, the
 * count and the provenance sidecar, with "reveal in folder" and "copy path". The engine's refusals
 * show inline.
 */
import { useFilters } from '../state/filters.js';
import { usePool } from '../state/pool.js';
import { useUi } from '../state/ui.js';
import {
  EXPORT_CHOICES,
  cancelExport,
  chooseFormat,
  closeExport,
  copyText,
  revealExport,
  runExport,
  setExportPath,
  setForce,
  setReshardOrder,
  setShardSize,
  takesColumns,
  toggleColumn,
  useExport,
  type ExportChoice,
} from '../state/exportState.js';
import { specLabel } from '../filters/draft.js';
import { fmtCompact, fmtInt, fmtPct, fmtSeconds } from '../format.js';

export function ExportDialog() {
  const s = useExport();
  const decision = useFilters((f) => f.decisions.find((d) => d.id === s.decisionId) ?? null);
  const kinds = useFilters((f) => f.kinds);
  const hasImages = usePool((p) => (p.pool?.rowsWithImage ?? 0) > 0);
  const progress = useUi((u) => u.progress.export);
  if (!s.decisionId) return null;
  const reshard = s.choice === 'reshard';
  const choices = EXPORT_CHOICES.filter((c) => c.value !== 'reshard' || hasImages);
  const help = EXPORT_CHOICES.find((c) => c.value === s.choice)?.help ?? '';
  const share = progress && progress.total > 0 ? Math.min(1, progress.done / progress.total) : 0;

  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && closeExport()}>
      <div className="modal export-dialog" role="dialog" aria-modal="true" aria-labelledby="export-title" data-testid="export-dialog" data-decision={s.decisionId}>
        <div className="modal-title">
          <span id="export-title">Export decision</span>
          <button className="icon-button tiny" onClick={closeExport} disabled={s.running} title={s.running ? 'cancel the export first' : 'close'} data-testid="export-close">
            ✕
          </button>
        </div>
        {decision && (
          <div className="muted small export-what" title={JSON.stringify(decision.spec, null, 2)}>
            {specLabel(decision.spec, kinds)} · {fmtInt(decision.kept)} of {fmtInt(decision.total)} kept
          </div>
        )}

        <label className="field">
          <span>Format</span>
          <select value={s.choice} onChange={(e) => chooseFormat(e.target.value as ExportChoice)} disabled={s.running} data-testid="export-format">
            {choices.map((c) => (
              <option key={c.value} value={c.value} title={c.help}>
                {c.label}
              </option>
            ))}
          </select>
        </label>
        <div className="muted small field-help">{help}</div>

        {takesColumns(s.choice) && (
          <fieldset className="export-columns" data-testid="export-columns">
            <legend className="small">Columns</legend>
            <label className="check" title="always the first column">
              <input type="checkbox" checked disabled /> uid
            </label>
            {(s.available ?? []).filter((c) => c !== 'uid').map((c) => (
              <label className="check" key={c}>
                <input type="checkbox" checked={s.columns.includes(c)} onChange={() => toggleColumn(c)} disabled={s.running} data-testid="export-column" data-column={c} /> {c}
              </label>
            ))}
            {s.available === null && <span className="muted small">loading…</span>}
          </fieldset>
        )}

        <label className="field">
          <span>{reshard ? 'Folder' : 'File'}</span>
          <input
            type="text"
            className="mono"
            value={s.path}
            onChange={(e) => setExportPath(e.target.value)}
            onKeyDown={(e) => e.key === 'Enter' && void runExport()}
            disabled={s.running}
            spellCheck={false}
            placeholder={reshard ? '/path/to/output/folder' : '/path/to/subset.npy'}
            aria-label="destination path"
            data-testid="export-path"
          />
        </label>
        <div className="muted small field-help">
          {reshard ? 'created if missing; its parent must exist' : 'an absolute path; its folder must exist'} · never inside the pool
        </div>
        {reshard && (
          <label className="field">
            <span>Shard size</span>
            <input type="number" min={1} value={s.shardSize} onChange={(e) => setShardSize(e.target.value)} disabled={s.running} data-testid="export-shard-size" />
          </label>
        )}
        {reshard && (
          <label className="field" title="source: the samples in the order of the pool's tars, read sequentially (fast); uid: each shard a range of uids, one read per sample at random places in the tars (slower, most of all on a disk that is not cached)">
            <span>Order</span>
            <select value={s.order} onChange={(e) => setReshardOrder(e.target.value as 'source' | 'uid')} disabled={s.running} data-testid="export-order">
              <option value="source">as in the source tars</option>
              <option value="uid">by uid</option>
            </select>
          </label>
        )}
        <label className="check" title={reshard ? 'allow a folder that holds other files or another reshard' : 'replace an existing file and its sidecar'}>
          <input type="checkbox" checked={s.force} onChange={(e) => setForce(e.target.checked)} disabled={s.running} data-testid="export-force" /> overwrite
        </label>

        {s.error && (
          <div className="error-text small export-error" role="alert" data-testid="export-error">
            {s.error}
          </div>
        )}
        {s.error && /already exists/.test(s.error) && !s.force && <div className="muted small">tick “overwrite” to replace it and its sidecar</div>}
        {s.cancelled && <div className="muted small" data-testid="export-cancelled">cancelled{reshard ? ' (running it again resumes)' : ''}</div>}

        {s.running && (
          <div className="export-progress" data-testid="export-progress">
            <div className={`progress-track${progress && progress.total > 0 ? '' : ' indeterminate'}`}>
              <div className="progress-fill" style={{ width: `${share * 100}%` }} />
            </div>
            <span className="muted small">
              {progress && progress.total > 0 ? `${fmtCompact(progress.done)} / ${fmtCompact(progress.total)} (${fmtPct(share, 0)})` : ''}
              {progress?.message ? ` ${progress.message}` : ''}
            </span>
          </div>
        )}

        {s.outcome && (
          <div className="export-done" data-testid="export-done">
            <div className="ok-text small">✓ written</div>
            <table className="small">
              <tbody>
                <tr>
                  <td className="muted">{s.outcome.kind === 'file' ? 'file' : 'folder'}</td>
                  <td className="mono" data-testid="export-written-path">
                    {s.outcome.kind === 'file' ? s.outcome.result.path : s.outcome.result.dir}
                  </td>
                </tr>
                {s.outcome.kind === 'file' ? (
                  <tr>
                    <td className="muted">rows</td>
                    <td data-testid="export-written-count" data-count={s.outcome.result.written}>
                      {fmtInt(s.outcome.result.written)} ({s.outcome.result.format}
                      {s.outcome.result.columns.length > 1 ? `: ${s.outcome.result.columns.join(', ')}` : ''}) · {fmtSeconds(s.outcome.result.seconds)}
                    </td>
                  </tr>
                ) : (
                  <tr>
                    <td className="muted">samples</td>
                    <td data-testid="export-written-count" data-count={s.outcome.result.written}>
                      {fmtInt(s.outcome.result.written)} in {fmtInt(s.outcome.result.shards)} shards
                      {s.outcome.result.withoutImage > 0 ? ` · ${fmtInt(s.outcome.result.withoutImage)} without image (missing_uids.txt)` : ''}
                      {s.outcome.result.skippedShards > 0 ? ` · ${fmtInt(s.outcome.result.skippedShards)} kept from an earlier run` : ''} · {fmtSeconds(s.outcome.result.seconds)}
                    </td>
                  </tr>
                )}
                <tr>
                  <td className="muted">sidecar</td>
                  <td className="mono" data-testid="export-sidecar">
                    {s.outcome.result.sidecar}
                  </td>
                </tr>
              </tbody>
            </table>
            <div className="run-row">
              <button onClick={() => void revealExport(s.outcome!.kind === 'file' ? s.outcome!.result.path : (s.outcome!.result as { dir: string }).dir)} data-testid="export-reveal">
                Reveal in folder
              </button>
              <button onClick={() => void copyText(s.outcome!.kind === 'file' ? s.outcome!.result.path : (s.outcome!.result as { dir: string }).dir)} data-testid="export-copy-path">
                Copy path
              </button>
              {s.copied && <span className="muted small">copied</span>}
            </div>
          </div>
        )}

        <div className="run-row modal-actions">
          <button className="primary" onClick={() => void runExport()} disabled={s.running || s.path.trim() === ''} data-testid="export-run">
            {s.running ? 'Exporting…' : 'Export'}
          </button>
          {s.running ? (
            <button onClick={() => void cancelExport()} data-testid="export-cancel" title={reshard ? 'stop; finished shards are kept and a new run resumes' : 'stop; nothing is written'}>
              Cancel
            </button>
          ) : (
            <button onClick={closeExport} data-testid="export-dismiss">
              Close
            </button>
          )}
        </div>
      </div>
    </div>
  );
}
