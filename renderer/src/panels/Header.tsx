/** The header: the pool's name and size, its features, its warnings, and the theme toggle. */
import { useState } from 'react';
import { usePool } from '../state/pool.js';
import { toggleTheme, useUi } from '../state/ui.js';
import { basename, fmtInt } from '../format.js';

export function Header() {
  const pool = usePool((s) => s.pool);
  const theme = useUi((s) => s.theme);
  const warnings = pool?.warnings ?? [];
  const [showWarnings, setShowWarnings] = useState<boolean | null>(null);
  // Few warnings are shown at once; many wait behind their count.
  const open = showWarnings ?? warnings.length <= 3;
  return (
    <header className="header">
      <div className="header-row">
        <span className="brand">Sieve</span>
        {pool ? (
          <>
            <span className="pool-name" title={`${pool.path}\nworkspace: ${pool.workspace}\nfingerprint: ${pool.fingerprint}`} data-testid="pool-name">
              {basename(pool.path)}
            </span>
            <Stat label="rows" value={fmtInt(pool.rows)} title="samples in the pool (parquet rows over all shards)" />
            <Stat label="shards" value={fmtInt(pool.shards.length)} title="source shards: parquet, npz and tar sharing a stem" />
            <Stat
              label="with image"
              value={fmtInt(pool.rowsWithImage)}
              title={`samples whose image is in some tar; ${fmtInt(pool.rows - pool.rowsWithImage)} have none (failed download)`}
            />
            <span className="features" title="feature matrices of the pool (from npz or `sieve embed`): name, dimension, rows that have it">
              {pool.features.length === 0 ? (
                <span className="muted">no features</span>
              ) : (
                pool.features.map((f) => (
                  <span className="chip" key={f.name} title={`${f.name}: ${f.dim}-d ${f.dtype}, present in ${fmtInt(f.rowsPresent)} of ${fmtInt(pool.rows)} rows`}>
                    {f.name} <span className="muted">{f.dim}</span>
                  </span>
                ))
              )}
            </span>
          </>
        ) : (
          <span className="muted">no pool open</span>
        )}
        <span className="spacer" />
        {warnings.length > 0 && (
          <button className={`warn-badge${open ? ' active' : ''}`} onClick={() => setShowWarnings(!open)} data-testid="warnings-toggle" title="findings about the pool's files that did not stop it from opening">
            ⚠ {warnings.length} warning{warnings.length === 1 ? '' : 's'}
          </button>
        )}
        <button className="icon-button" onClick={toggleTheme} title="switch between dark and light (T)" data-testid="theme-toggle">
          {theme === 'dark' ? '☀ light' : '☾ dark'}
        </button>
      </div>
      {open && warnings.length > 0 && (
        <ul className="warnings" data-testid="warnings">
          {warnings.map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      )}
    </header>
  );
}

function Stat({ label, value, title }: { label: string; value: string; title: string }) {
  return (
    <span className="stat" title={title}>
      <span className="stat-value">{value}</span> <span className="stat-label">{label}</span>
    </span>
  );
}
