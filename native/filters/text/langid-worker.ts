/**
 * Worker thread for language ID: loads one model once (workerData.detector), then answers batches
 * of captions with their top-1 language codes, in order.
 *
 * Protocol: parent -> { id, texts: (string | null)[] }; worker -> { id, langs: string[] } or
 * { id, error }. After loading the worker posts { ready: true } (or { error } if loading failed).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadLanguageId, type Detector } from './lid-models.js';

interface Batch {
  id: number;
  texts: (string | null)[];
}

const port = parentPort;
if (!port) throw new Error('langid-worker must run in a worker thread');

try {
  const { detector, cacheSize } = workerData as { detector: Detector; cacheSize: number };
  const lid = await loadLanguageId(detector);
  // Pools repeat captions ("image", "Untitled", product templates): the models are deterministic,
  // so a per-worker cache of recent answers is exact. Cleared when full.
  const cache = new Map<string, string>();
  port.on('message', (b: Batch) => {
    try {
      const langs = new Array<string>(b.texts.length);
      for (let i = 0; i < b.texts.length; i++) {
        const text = b.texts[i] ?? '';
        let lang = cacheSize > 0 ? cache.get(text) : undefined;
        if (lang === undefined) {
          lang = lid.detect(text);
          if (cacheSize > 0 && text.length <= 512) {
            if (cache.size >= cacheSize) cache.clear();
            cache.set(text, lang);
          }
        }
        langs[i] = lang;
      }
      port.postMessage({ id: b.id, langs });
    } catch (e) {
      port.postMessage({ id: b.id, error: e instanceof Error ? e.message : String(e) });
    }
  });
  port.postMessage({ ready: true });
} catch (e) {
  port.postMessage({ error: e instanceof Error ? e.message : String(e) });
}
