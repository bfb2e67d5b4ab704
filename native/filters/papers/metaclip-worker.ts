/**
 * Worker thread for MetaCLIP's sub-string matching: gets the automaton once (workerData; its typed
 * arrays live in SharedArrayBuffers, so every worker reads the same copy), then answers batches of
 * captions with their matched entry ids.
 *
 * Protocol: parent -> { id, text, count } (count captions joined by JOIN_SEPARATOR); worker ->
 * { id, offsets, ids } (transferred), { id } when the text does not split into count captions, or
 * { id, error }. After start-up the worker posts { ready: true }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Matcher, type Automaton } from './metaclip-match.js';

const port = parentPort;
if (!port) throw new Error('metaclip-worker must run in a worker thread');

const matcher = new Matcher((workerData as { ac: Automaton }).ac);
port.on('message', (b: { id: number; text: string; count: number }) => {
  try {
    const m = matcher.matchJoined(b.text, b.count);
    if (!m) return port.postMessage({ id: b.id }); // a caption holds the separator: the parent reads them one by one
    port.postMessage({ id: b.id, offsets: m.offsets, ids: m.ids }, [m.offsets.buffer as ArrayBuffer, m.ids.buffer as ArrayBuffer]);
  } catch (e) {
    port.postMessage({ id: b.id, error: e instanceof Error ? e.message : String(e) });
  }
});
port.postMessage({ ready: true });
