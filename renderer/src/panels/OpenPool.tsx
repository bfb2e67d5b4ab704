/** Shown when no pool is open: a path field that calls openPool. */
import { useState, type FormEvent } from 'react';
import { usePool } from '../state/pool.js';
import { openPool } from '../state/actions.js';

export function OpenPool() {
  const status = usePool((s) => s.status);
  const error = usePool((s) => s.error);
  const [path, setPath] = useState('');
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
      {error && <div className="error-text" data-testid="open-error">{error}</div>}
    </form>
  );
}
