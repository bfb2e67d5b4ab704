/**
 * The spec: the filters added, how they combine (one alone, and, or, then) with a "not" per filter,
 * shown as JSON; or the JSON typed by hand. Either way the engine checks it as it changes
 * (debounced), its message shows inline, and Run stays off until the engine accepts the spec.
 */
import { useFilters } from '../state/filters.js';
import { usePool } from '../state/pool.js';
import {
  backToBuilder,
  canRun,
  cancelRun,
  editAsJson,
  editItem,
  jsonAsDraft,
  moveUp,
  removeItem,
  runSpec,
  setCombinator,
  setJsonText,
  specText,
  toggleNot,
} from '../state/filterActions.js';
import { COMBINATORS, specLabel, type Combinator } from './draft.js';
import { Presets } from './Presets.js';
import { RunOnSlurmButton } from './ClusterRun.js';

const COMBINATOR_HELP: Record<Combinator, string> = {
  single: 'one filter, as it is',
  and: 'keep the rows that every filter keeps (each filter decides on the whole pool)',
  or: 'keep the rows that some filter keeps (each filter decides on the whole pool)',
  then: 'a pipeline: each filter sees only the rows the filters above it kept, so a fraction is of the survivors',
};

export function SpecEditor() {
  const s = useFilters();
  usePool((p) => p.status); // Run depends on the pool being open
  const text = specText(s);
  const runnable = canRun(s);
  const check = s.check && s.check.text === text ? s.check : null;
  const jsonFits = s.mode === 'json' && (s.jsonText.trim() === '' || jsonAsDraft(s.jsonText) !== null);

  return (
    <div className="spec-editor">
      <div className="section-title">
        <span title="the filter spec that Run runs (DESIGN.md: leaves and and/or/not/then)">Spec</span>
        {s.mode === 'build' ? (
          <button className="link-button" onClick={editAsJson} data-testid="edit-json" title="edit the spec as JSON text">
            Edit as JSON
          </button>
        ) : (
          <button
            className="link-button"
            onClick={backToBuilder}
            data-testid="back-to-builder"
            title={jsonFits ? 'show this spec as a list of filters' : 'this spec is nested deeper than the list shows: going back drops the typed JSON'}
          >
            {jsonFits ? 'Back to builder' : 'Discard JSON'}
          </button>
        )}
      </div>

      <Presets />

      {s.mode === 'build' && (
        <>
          {s.items.length === 0 ? (
            <div className="muted small empty-spec">No filter yet: add one above, or edit the spec as JSON.</div>
          ) : (
            <ul className="spec-items" data-testid="spec-items">
              {s.items.map((it, i) => (
                <li key={it.key} className="spec-item">
                  <button
                    className={`not-toggle${it.not ? ' on' : ''}`}
                    onClick={() => toggleNot(it.key)}
                    aria-pressed={it.not}
                    title={it.not ? 'negated: keeps what this filter drops (click to undo)' : 'negate: keep what this filter drops'}
                    data-testid="not-toggle"
                  >
                    ¬
                  </button>
                  <span className="spec-item-label" title={JSON.stringify(it.leaf, null, 2)}>
                    {it.not && <span className="muted">not </span>}
                    {specLabel(it.leaf, s.kinds)}
                  </span>
                  {i > 0 && (
                    <button className="icon-button tiny" onClick={() => moveUp(it.key)} title="move up (the order matters for then)">
                      ↑
                    </button>
                  )}
                  <button className="icon-button tiny" onClick={() => editItem(it.key)} title="load into the form above">
                    ✎
                  </button>
                  <button className="icon-button tiny" onClick={() => removeItem(it.key)} title="remove" data-testid="remove-item">
                    ✕
                  </button>
                </li>
              ))}
            </ul>
          )}
          <div className="segmented" role="radiogroup" aria-label="combine the filters with">
            {COMBINATORS.map((c) => {
              const disabled = c === 'single' ? s.items.length > 1 : s.items.length < 2;
              return (
                <button
                  key={c}
                  role="radio"
                  aria-checked={s.combinator === c}
                  className={s.combinator === c ? 'on' : ''}
                  disabled={disabled}
                  onClick={() => setCombinator(c)}
                  title={COMBINATOR_HELP[c] + (disabled ? (c === 'single' ? ' (there are several filters)' : ' (add a second filter first)') : '')}
                  data-testid={`combinator-${c}`}
                >
                  {c}
                </button>
              );
            })}
          </div>
          {text !== null && (
            <pre className="spec-json" data-testid="spec-preview">
              {text}
            </pre>
          )}
        </>
      )}

      {s.mode === 'json' && (
        <textarea
          className={`spec-json${check?.status === 'error' ? ' invalid' : ''}`}
          value={s.jsonText}
          onChange={(e) => setJsonText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
              e.preventDefault();
              void runSpec();
            }
          }}
          spellCheck={false}
          rows={8}
          placeholder='{"filter": "clip_score", "arch": "l14", "fraction": 0.3}'
          aria-label="filter spec as JSON"
          aria-invalid={check?.status === 'error'}
          data-testid="spec-json"
        />
      )}

      <div className="spec-check" data-testid="spec-check" data-status={check?.status ?? 'none'}>
        {check?.status === 'pending' && <span className="muted">checking…</span>}
        {check?.status === 'ok' && <span className="ok-text">✓ the engine accepts this spec</span>}
        {check?.status === 'error' && (
          <span className="error-text" data-testid="spec-error">
            {check.message}
          </span>
        )}
      </div>

      <div className="run-row">
        <button
          className="primary"
          disabled={!runnable}
          onClick={() => void runSpec()}
          data-testid="run-filter"
          title={
            s.running
              ? 'a filter is running'
              : runnable
                ? 'run this spec on the pool (a spec run before is reused)' + (s.mode === 'json' ? ' · Ctrl+Enter' : '')
                : 'the engine has not accepted this spec'
          }
        >
          {s.running ? 'Running…' : 'Run'}
        </button>
        <RunOnSlurmButton />
        {s.running && (
          <button onClick={() => void cancelRun()} data-testid="cancel-filter" title="stop the filter; nothing is stored">
            Cancel
          </button>
        )}
        {s.runMessage && (
          <span className={s.runMessage.error ? 'error-text small' : 'muted small'} data-testid="run-message">
            {s.runMessage.text}
          </span>
        )}
      </div>
    </div>
  );
}
