/** The inspector: everything about the clicked sample, with its thumbnail. */
import { useEffect, useState } from 'react';
import type { SampleDetail } from '../../../native/api.js';
import { client } from '../client/client.js';
import { useSelection } from '../state/selection.js';
import { select } from '../state/actions.js';
import { errorMessage, fmtInt, fmtScore } from '../format.js';
import { useMap } from '../state/map.js';
import { useUi } from '../state/ui.js';
import { clusterRgb, rgbCss } from '../map/palette.js';
import { Verdict } from './Verdict.js';
import { showSimilar, usePickOrder } from '../state/pick.js';

type Loaded = { row: number; detail: SampleDetail | null; error: string | null };

export function Inspector() {
  const row = useSelection((s) => s.selected);
  const [state, setState] = useState<Loaded | null>(null);
  const [thumbFailed, setThumbFailed] = useState(false);
  const labels = useMap((s) => s.meta?.clusterLabels);
  const theme = useUi((s) => s.theme);
  const picked = useSelection((s) => s.picked);
  const similarBusy = usePickOrder((s) => s.busy);

  useEffect(() => {
    setThumbFailed(false);
    if (row === null) {
      setState(null);
      return;
    }
    let live = true;
    setState({ row, detail: null, error: null });
    client()
      .getSample(row)
      .then((detail) => live && setState({ row, detail, error: null }))
      .catch((e) => live && setState({ row, detail: null, error: errorMessage(e) }));
    return () => {
      live = false;
    };
  }, [row]);

  if (row === null) return null;
  const d = state?.row === row ? state.detail : null;
  return (
    <aside className="inspector" data-testid="inspector" data-row={row}>
      <div className="panel-title">
        <span>
          {picked && (
            <button className="link-button" onClick={() => select(null)} title="back to the picked samples (Esc)" data-testid="back-to-picked">
              ← {fmtInt(picked.rows.length)} picked
            </button>
          )}{' '}
          Sample {fmtInt(row)}
        </span>
        <span>
          <button
            className="link-button"
            onClick={() => void showSimilar(row)}
            disabled={similarBusy !== null}
            title="pick the 100 samples whose image features are nearest to this one (cosine, exact) and list them, nearest first (S)"
            data-testid="show-similar"
          >
            {similarBusy ? 'finding…' : 'show similar'}
          </button>{' '}
          <button className="icon-button" onClick={() => select(null)} title="close (Esc)">
            ✕
          </button>
        </span>
      </div>
      <Verdict row={row} />
      {state?.error && <div className="error-text">{state.error}</div>}
      {!d && !state?.error && <div className="muted">loading…</div>}
      {d && (
        <>
          <div className="thumb">
            {d.imageKey && !thumbFailed ? (
              <img
                key={row}
                src={client().thumbnailUrl(row, 256)}
                alt={d.text ?? d.uid}
                data-testid="thumbnail"
                onError={() => setThumbFailed(true)}
              />
            ) : (
              <div className="no-image" data-testid="no-image">
                {d.imageKey ? 'no image (the thumbnail could not be read)' : 'no image (failed download)'}
              </div>
            )}
          </div>
          <p className="caption" data-testid="inspector-caption">
            {d.text ?? <span className="muted">(no caption)</span>}
          </p>
          <dl className="fields">
            <dt>uid</dt>
            <dd className="mono" data-testid="inspector-uid">{d.uid}</dd>
            <dt>url</dt>
            <dd className="url">
              {d.url ? (
                <a href={d.url} target="_blank" rel="noreferrer noopener" title="the original URL; opens outside Sieve">
                  {d.url}
                </a>
              ) : (
                <span className="muted">–</span>
              )}
            </dd>
            <dt title="the image's size before download resizing">original size</dt>
            <dd>{d.originalWidth !== null && d.originalHeight !== null ? `${fmtInt(d.originalWidth)} × ${fmtInt(d.originalHeight)}` : '–'}</dd>
            <dt title="cosine similarity of the image and caption embeddings of OpenAI CLIP ViT-B/32">CLIP B/32</dt>
            <dd className="num">{fmtScore(d.clipB32)}</dd>
            <dt title="cosine similarity of the image and caption embeddings of OpenAI CLIP ViT-L/14">CLIP L/14</dt>
            <dd className="num">{fmtScore(d.clipL14)}</dd>
            <dt>shard</dt>
            <dd className="mono">
              {d.shard} <span className="muted">row {fmtInt(d.shardRow)}</span>
            </dd>
            <dt title="the webdataset key of the sample in its tar">key</dt>
            <dd className="mono">{d.imageKey ?? <span className="muted">– (no image)</span>}</dd>
            {d.cluster !== null && (
              <>
                <dt>cluster</dt>
                <dd>
                  <span className="swatch" style={{ background: rgbCss(clusterRgb(d.cluster, theme)) }} /> {d.cluster}
                  {labels?.[d.cluster] ? <span className="muted"> · {labels[d.cluster]}</span> : null}
                </dd>
              </>
            )}
            <dt title="faces detected in the image">faces</dt>
            <dd className="num">{d.faceCount}</dd>
            {d.sha256 && (
              <>
                <dt>sha256</dt>
                <dd className="mono hash" title={d.sha256}>{d.sha256}</dd>
              </>
            )}
          </dl>
        </>
      )}
    </aside>
  );
}
