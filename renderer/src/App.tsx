/** The app's frame: header, progress, then filters/clusters | map | inspector; or the open-pool form. */
import { useEffect } from 'react';
import { Header } from './panels/Header.js';
import { ProgressBar } from './panels/ProgressBar.js';
import { OpenPool } from './panels/OpenPool.js';
import { RightPanel } from './panels/RightPanel.js';
import { HelpOverlay, toggleHelp, useHelp } from './panels/Help.js';
import { clearPicked, setTool, showSimilar, zoomToPicked } from './state/pick.js';
import { useMap } from './state/map.js';
import { openDropped } from './state/drop.js';
import { Splitter } from './panels/Splitter.js';
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

/** Esc closes the innermost thing: the help, the sample, the drawing tool, then the picked rows. */
function escape() {
  if (useHelp.getState().open) useHelp.setState({ open: false });
  else if (useSelection.getState().selected !== null) select(null);
  else if (useMap.getState().tool !== 'pan') useMap.setState({ tool: 'pan' });
  else clearPicked();
}

function useShortcuts() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
      if (k === '?') toggleHelp();
      else if (k === 'Escape') escape();
      else if (k === 'l') setTool('lasso');
      else if (k === 'b') setTool('box');
      else if (k === 'z') zoomToPicked();
      else if (k === 'x') clearPicked();
      else if (k === 's' && useSelection.getState().selected !== null) void showSimilar(useSelection.getState().selected!);
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
  useShortcuts();
  useEffect(() => {
    void start();
  }, []);

  return (
    <div
      className="app"
      onDragOver={(e) => {
        // accept a dropped folder anywhere in the window (a drop elsewhere would navigate away)
        if (e.dataTransfer.types.includes('Files')) e.preventDefault();
      }}
      onDrop={(e) => {
        if (!e.dataTransfer.types.includes('Files')) return;
        e.preventDefault();
        openDropped(e.dataTransfer.files);
      }}
    >
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
        <main className="workbench">
          <Sidebar />
          <MapView />
          <RightPanel />
          <Splitter side="left" />
          <Splitter side="right" />
        </main>
      )}
      {status === 'open' && <ChartsDock />}
      {status === 'open' && error && <div className="toast-inline error-text">{error}</div>}
      {status === 'open' && <ExportDialog />}
      <Errors />
      <HelpOverlay />
    </div>
  );
}
