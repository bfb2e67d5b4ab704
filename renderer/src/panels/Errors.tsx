/** Errors from the engine, in its words, until the user dismisses them. */
import { dismissError, useUi } from '../state/ui.js';

export function Errors() {
  const errors = useUi((s) => s.errors);
  if (errors.length === 0) return null;
  return (
    <div className="toasts" role="alert">
      {errors.map((e) => (
        <div className="toast" key={e.id}>
          <span>{e.message}</span>
          <button className="icon-button" onClick={() => dismissError(e.id)} title="dismiss">
            ✕
          </button>
        </div>
      ))}
    </div>
  );
}
