/** The app's frame: header, progress, then filters/clusters | map | inspector; or the open-pool form. */
import { useEffect } from 'react';
import { Header } from './panels/Header.js';
import { ProgressBar } from './panels/ProgressBar.js';
import { OpenPool } from './panels/OpenPool.js';
import { Inspector } from './panels/Inspector.js';
import { Errors } from './panels/Errors.js';
import { MapView } from './map/MapView.js';
import { Sidebar } from './panels/Sidebar.js';
import { ExportDialog } from './export/ExportDialog.js';
import { usePool } from './state/pool.js';
import { useSelection } from './state/selection.js';
import { fitView, select, start } from './state/actions.js';
import { toggleTheme } from './state/ui.js';
import { toggleHideDropped } from './state/filterActions.js';
import { useDecision } from './state/decision.js';
import { ChartsDock } from './charts/ChartsDock.js';

function useShortcuts() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === 'Escape') select(null);
      else if (e.key === 'f' || e.key === 'F') fitView();
      else if (e.key === 't' || e.key === 'T') toggleTheme();
      else if ((e.key === 'h' || e.key === 'H') && useDecision.getState().current) toggleHideDropped();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

export function App() {
  const status = usePool((s) => s.status);
  const error = usePool((s) => s.error);
  const selected = useSelection((s) => s.selected);
  useShortcuts();
  useEffect(() => {
    void start();
  }, []);

  return (
    <div className="app">
      <Header />
      <ProgressBar />
      {status === 'connecting' && <div className="center muted">Connecting to the engine…</div>}
      {status === 'error' && (
        <div className="center">
          <div className="error-text" data-testid="engine-error">
            {error}
          </div>
        </div>
      )}
      {(status === 'none' || (status === 'opening' && !usePool.getState().pool)) && (
        <div className="center">
          <OpenPool />
        </div>
      )}
      {status === 'open' && (
        <main className={`workbench${selected !== null ? ' with-inspector' : ''}`}>
          <Sidebar />
          <MapView />
          <Inspector />
        </main>
      )}
      {status === 'open' && <ChartsDock />}
      {status === 'open' && error && <div className="toast-inline error-text">{error}</div>}
      {status === 'open' && <ExportDialog />}
      <Errors />
    </div>
  );
}
