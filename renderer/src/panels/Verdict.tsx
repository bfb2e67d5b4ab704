/**
 * The current decision's word on one row, in the inspector: "kept by <spec>", or "dropped by
 * <rule>" with the rule's text and the value it looked at (explainRow).
 */
import { useEffect, useState } from 'react';
import type { RowExplanation } from '../../../native/api.js';
import { client } from '../client/client.js';
import { useDecision } from '../state/decision.js';
import { useFilters } from '../state/filters.js';
import { specLabel } from '../filters/draft.js';
import { errorMessage, fmtValue } from '../format.js';

type Loaded = { key: string; explanation: RowExplanation | null; error: string | null };

export function Verdict({ row }: { row: number }) {
  const decision = useDecision((s) => s.current);
  const kinds = useFilters((s) => s.kinds);
  const [state, setState] = useState<Loaded | null>(null);
  const id = decision?.id ?? null;
  const key = `${id}|${row}`;

  useEffect(() => {
    if (id === null) {
      setState(null);
      return;
    }
    let live = true;
    setState({ key, explanation: null, error: null });
    client()
      .explainRow(id, row)
      .then((explanation) => live && setState({ key, explanation, error: null }))
      .catch((e) => live && setState({ key, explanation: null, error: errorMessage(e) }));
    return () => {
      live = false;
    };
  }, [id, row]);

  if (!decision) return null;
  const x = state?.key === key ? state.explanation : null;
  const label = specLabel(decision.spec, kinds);
  return (
    <div
      className={`verdict${x ? (x.kept ? ' kept' : ' dropped') : ''}`}
      data-testid="inspector-decision"
      data-kept={x ? String(x.kept) : undefined}
      data-rule={x?.rule?.id}
      data-value={x?.value ?? undefined}
      title={x?.rule ? `${x.rule.id} at ${x.rule.path}\n${x.rule.text}` : JSON.stringify(decision.spec, null, 2)}
    >
      {state?.key === key && state.error && <span className="error-text">{state.error}</span>}
      {!x && !(state?.key === key && state.error) && <span className="muted">asking the decision…</span>}
      {x && x.kept && (
        <>
          <span className="verdict-mark">✓</span> kept by <b>{label}</b>
        </>
      )}
      {x && !x.kept && (
        <>
          <span className="verdict-mark">✗</span> dropped by <b className="mono">{x.rule?.id ?? 'the decision'}</b>
          {x.rule && <> — {x.rule.text}</>}
          {x.value !== null && (
            <>
              ; this sample: <b className="num" data-testid="verdict-value">{fmtValue(x.value)}</b>
            </>
          )}
        </>
      )}
    </div>
  );
}
