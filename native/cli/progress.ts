/**
 * Progress of long work on stderr: a rewritten line on a terminal; elsewhere (CI, pipes) a line when
 * the step changes, when it ends, and every few seconds in between.
 */
import type { ProgressEvent } from '../api.js';

export function progressPrinter(): (e: ProgressEvent) => void {
  let last = 0;
  let lastMessage = '';
  return (e) => {
    const now = Date.now();
    const finished = e.done >= e.total;
    const message = `${e.job}: ${e.message ?? ''}`;
    if (now - last < (process.stderr.isTTY ? 100 : 5000) && !finished && message === lastMessage) return;
    last = now;
    lastMessage = message;
    const pct = e.total ? Math.floor((100 * e.done) / e.total) : 0;
    const rate = e.rate ? ` ${Math.round(e.rate)}/s` : '';
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message} ${pct}%${rate}${finished ? '\n' : ''}`);
    else process.stderr.write(`${message} ${e.done}/${e.total}${rate}\n`);
  };
}
