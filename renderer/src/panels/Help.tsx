/** The keyboard shortcuts ('?' shows them): one list, read by the overlay and written beside the handler. */
import { create } from 'zustand';

export const SHORTCUTS: [keys: string, what: string][] = [
  ['?', 'show or hide this list'],
  ['L', 'lasso: draw around points to pick them (again: back to pan)'],
  ['B', 'box: drag a rectangle to pick points (again: back to pan)'],
  ['Z', 'zoom the map to the picked points'],
  ['X', 'clear the picked points'],
  ['S', 'show the samples most similar to the one in the inspector'],
  ['F', 'fit the whole map in view'],
  ['H', 'hide or show the rows the current decision drops'],
  ['T', 'switch between dark and light'],
  ['Esc', 'close this list, then the sample, then the drawing tool, then the picked points'],
  ['scroll / drag', 'zoom / pan the map (with the pan tool)'],
];

export const useHelp = create<{ open: boolean }>(() => ({ open: false }));
export const toggleHelp = () => useHelp.setState((s) => ({ open: !s.open }));

export function HelpOverlay() {
  const open = useHelp((s) => s.open);
  if (!open) return null;
  return (
    <div className="help-backdrop" onClick={() => useHelp.setState({ open: false })} data-testid="help">
      <div className="help-card" onClick={(e) => e.stopPropagation()} role="dialog" aria-label="keyboard shortcuts">
        <div className="panel-title">
          <span>Keyboard shortcuts</span>
          <button className="icon-button" onClick={() => useHelp.setState({ open: false })} title="close (Esc)">
            ✕
          </button>
        </div>
        <table>
          <tbody>
            {SHORTCUTS.map(([k, what]) => (
              <tr key={k}>
                <td>
                  <kbd>{k}</kbd>
                </td>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="muted small">Shortcuts do nothing while you type in a field.</p>
      </div>
    </div>
  );
}
