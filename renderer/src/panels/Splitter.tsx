/**
 * A draggable edge between the workbench's columns: it sets the column's width as a CSS variable on
 * the workbench (`--left-w`, `--right-w`) and remembers it in localStorage. Double-click: default.
 */
import { useEffect, type MouseEvent as ReactMouseEvent, type PointerEvent as ReactPointerEvent } from 'react';

const LIMITS = { left: [200, 560, 300], right: [260, 720, 360] } as const;
const key = (side: 'left' | 'right') => `sieve.${side}Width`;

function apply(el: HTMLElement, side: 'left' | 'right', px: number) {
  el.style.setProperty(`--${side}-w`, `${px}px`);
}

export function Splitter({ side }: { side: 'left' | 'right' }) {
  const [min, max, def] = LIMITS[side];
  // restore the saved width once the workbench exists
  useEffect(() => {
    const el = document.querySelector<HTMLElement>('.workbench');
    const saved = Number(localStorage.getItem(key(side)));
    if (el && saved >= min && saved <= max) apply(el, side, saved);
  }, [side, min, max]);

  const down = (e: ReactPointerEvent<HTMLDivElement>) => {
    if (e.button !== 0) return;
    const handle = e.currentTarget;
    const bench = handle.parentElement as HTMLElement;
    handle.setPointerCapture(e.pointerId);
    const rect = bench.getBoundingClientRect();
    let width: number = def;
    const move = (ev: PointerEvent) => {
      const raw = side === 'left' ? ev.clientX - rect.left : rect.right - ev.clientX;
      width = Math.round(Math.max(min, Math.min(max, raw)));
      apply(bench, side, width);
    };
    const up = () => {
      handle.removeEventListener('pointermove', move);
      handle.removeEventListener('pointerup', up);
      try {
        localStorage.setItem(key(side), String(width));
      } catch {
        /* storage may be off */
      }
    };
    handle.addEventListener('pointermove', move);
    handle.addEventListener('pointerup', up);
  };
  const reset = (e: ReactMouseEvent<HTMLDivElement>) => {
    apply(e.currentTarget.parentElement as HTMLElement, side, def);
    localStorage.removeItem(key(side));
  };
  return <div className={`splitter ${side}`} onPointerDown={down} onDoubleClick={reset} title="drag to resize; double-click for the default width" data-testid={`splitter-${side}`} />;
}
