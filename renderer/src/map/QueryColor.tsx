/**
 * Colour by a text query: the form (in the Clusters tab, under the cluster legend) and the ramp's
 * legend over the map's lower left corner, with the lowest and highest similarity in the pool.
 */
import { colorByText, rampRgb, setQueryModel, setQueryText, stopQueryColors, useQueryColor } from '../state/queryColor.js';
import { useUi } from '../state/ui.js';
import { fmtInt } from '../format.js';
import { rgbCss } from './palette.js';

export function QueryForm() {
  const s = useQueryColor();
  return (
    <form
      className="query-form"
      data-testid="text-query-form"
      onSubmit={(e) => {
        e.preventDefault();
        void colorByText();
      }}
    >
      <div className="panel-title" title="colour the map by the cosine similarity of each image to a text, with a CLIP text encoder on disk (docs/embed.md)">
        colour by text
      </div>
      <input type="text" value={s.text} onChange={(e) => setQueryText(e.target.value)} placeholder="a photo of a dog" data-testid="text-query" aria-label="text to compare the images with" />
      <input type="text" value={s.model} onChange={(e) => setQueryModel(e.target.value)} placeholder="CLIP model folder (sieve-model.json, text.onnx)" data-testid="text-model" aria-label="CLIP model folder" />
      <div className="query-actions">
        <button type="submit" disabled={s.status === 'running'} data-testid="text-query-run">
          {s.status === 'running' ? 'Encoding…' : 'Colour'}
        </button>
        {s.shown !== null && (
          <button type="button" className="link-button" onClick={stopQueryColors}>
            back to clusters
          </button>
        )}
      </div>
      {s.status === 'error' && (
        <div className="error-text small" data-testid="text-query-error">
          {s.error}
        </div>
      )}
    </form>
  );
}

export function QueryLegend() {
  const s = useQueryColor();
  const theme = useUi((u) => u.theme);
  if (s.shown === null) return null;
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => `${rgbCss(rampRgb(t, theme))} ${t * 100}%`).join(', ');
  return (
    <div className="decision-legend group-legend" data-testid="query-legend" data-min={s.min} data-max={s.max} data-missing={s.missing} onPointerDown={(e) => e.stopPropagation()} onPointerUp={(e) => e.stopPropagation()}>
      <div className="decision-legend-title">
        <span className="decision-legend-label" title={`cosine similarity of each row's ${s.feature} to the text (encoder on ${s.provider})`}>
          colour: “{s.shown}”
        </span>
        <button className="icon-button tiny" onClick={stopQueryColors} title="back to cluster colours">
          ✕
        </button>
      </div>
      <div className="query-ramp" style={{ background: `linear-gradient(90deg, ${stops})` }} />
      <div className="query-range small">
        <span data-testid="query-min">{s.min.toFixed(3)}</span>
        <span className="muted">cosine to {s.feature}</span>
        <span data-testid="query-max">{s.max.toFixed(3)}</span>
      </div>
      {s.missing > 0 && <div className="muted small">{fmtInt(s.missing)} rows without {s.feature}: grey</div>}
    </div>
  );
}
