/** Shown when no pool is open: a path field that calls openPool. */
import { useState, type FormEvent } from 'react';
import { usePool } from '../state/pool.js';
import { openPool } from '../state/actions.js';
import { forgetPool, useRecent } from '../state/recent.js';

export function OpenPool() {
  const status = usePool((s) => s.status);
  const error = usePool((s) => s.error);
  const [path, setPath] = useState('');
  const recent = useRecent((s) => s.pools);
  const dropMessage = useRecent((s) => s.dropMessage);
  const busy = status === 'opening';
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (path.trim()) void openPool(path.trim());
  };
  return (
    <form className="open-pool" onSubmit={submit} data-testid="open-pool">
      <h2>Open a pool</h2>
      <p className="muted">
        A folder of DataComp-style shards (parquet, npz, tar). Sieve never writes into it; what it derives goes to a workspace folder.
      </p>
      <div className="open-row">
        <input
          type="text"
          value={path}
          onChange={(e) => setPath(e.target.value)}
          placeholder="/path/to/pool"
          spellCheck={false}
          autoFocus
          disabled={busy}
          aria-label="pool folder path"
        />
        <button type="submit" disabled={busy || !path.trim()}>
          {busy ? 'Opening…' : 'Open'}
        </button>
      </div>
      <p className="muted small">Or drop the pool's folder on this window.</p>
      {dropMessage && <div className="warn-text" data-testid="drop-message">{dropMessage}</div>}
      {error && <div className="error-text" data-testid="open-error">{error}</div>}
      {recent.length > 0 && (
        <div className="recent-pools" data-testid="recent-pools">
          <div className="section-title">Recent pools</div>
          <ul>
            {recent.map((p) => (
              <li key={p}>
                <button type="button" className="link-button mono" onClick={() => void openPool(p)} disabled={busy} title={`open ${p}`}>
                  {p}
                </button>
                <button type="button" className="icon-button tiny" onClick={() => forgetPool(p)} title="forget this pool (its workspace stays)">
                  ✕
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </form>
  );
}
