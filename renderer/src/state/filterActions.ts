/**
 * What the app does with filters: load the catalogue, build a spec (form, list, or JSON), have the
 * engine check it (debounced), run it with progress and cancel, list the stored decisions, and make
 * one the current decision that colours the map.
 */
import type { SlurmClusterConfig } from '../../../native/api.js';
import { client, SieveClientError } from '../client/client.js';
import { errorMessage, fmtInt, fmtSeconds } from '../format.js';
import { recolor } from '../map/buffers.js';
import { testHook } from '../testHook.js';
import {
  buildSpec,
  draftFromSpec,
  formFromLeaf,
  formLeaf,
  initialForm,
  newItem,
  prettySpec,
  type Combinator,
  type FormState,
} from '../filters/draft.js';
import { useDecision } from './decision.js';
import { decisionArrays } from './decisionData.js';
import { useFilters, type FiltersState } from './filters.js';
import { bumpMapVersion } from './map.js';
import { usePool } from './pool.js';
import { clearProgress, reportError, updateProgress, useUi } from './ui.js';

/** The engine checks a spec this long after the last keystroke. */
export const CHECK_DELAY_MS = 250;
/** The kind the form opens on: DataComp's best small-scale baseline. */
const FIRST_KIND = 'clip_score';

// ---- the catalogue and the add-filter form ----

export async function loadFilterKinds(): Promise<void> {
  try {
    const kinds = await client().listFilterKinds();
    const first = kinds.find((k) => k.name === FIRST_KIND) ?? kinds[0];
    useFilters.setState((s) => ({ kinds, kindsError: null, form: s.form ?? (first ? initialForm(first) : null) }));
  } catch (e) {
    useFilters.setState({ kindsError: errorMessage(e) });
  }
}

export function chooseKind(name: string): void {
  const kind = useFilters.getState().kinds?.find((k) => k.name === name);
  if (kind) useFilters.setState({ form: initialForm(kind) });
}

const setForm = (f: (form: FormState) => FormState) =>
  useFilters.setState((s) => (s.form ? { form: f(s.form) } : {}));

export const setParam = (name: string, value: string) => setForm((form) => ({ ...form, values: { ...form.values, [name]: value } }));
export const chooseOneOf = (group: number, param: string) => setForm((form) => ({ ...form, choice: { ...form.choice, [group]: param } }));

// ---- the list of filters and its combinator ----

/** The spec text that Run would run: the JSON typed by hand, or the list's spec; null when empty. */
export function specText(s: Pick<FiltersState, 'mode' | 'jsonText' | 'items' | 'combinator'>): string | null {
  if (s.mode === 'json') return s.jsonText.trim() === '' ? null : s.jsonText;
  const spec = buildSpec(s.items, s.combinator);
  return spec === null ? null : prettySpec(spec);
}

function withItems(items: FiltersState['items'], combinator: Combinator): Partial<FiltersState> {
  // One filter stands alone; a second one combines with `and` unless the user chose otherwise.
  const c: Combinator = items.length <= 1 ? 'single' : combinator === 'single' ? 'and' : combinator;
  const s = useFilters.getState();
  return s.mode === 'json' ? { items, combinator: c, jsonText: prettySpec(buildSpec(items, c)) } : { items, combinator: c };
}

/** Whether the JSON typed by hand can be shown as a list (so Add can append to it). */
export function jsonAsDraft(text: string): ReturnType<typeof draftFromSpec> {
  try {
    return draftFromSpec(JSON.parse(text));
  } catch {
    return null;
  }
}

/** Add the form's filter to the list (in JSON mode: to the typed spec, when it is a list's shape). */
export function addFromForm(): void {
  const s = useFilters.getState();
  const kind = s.kinds?.find((k) => k.name === s.form?.kind);
  if (!kind || !s.form) return;
  const item = newItem(formLeaf(kind, s.form));
  if (s.mode === 'json') {
    const draft = s.jsonText.trim() === '' ? { items: [], combinator: 'single' as Combinator } : jsonAsDraft(s.jsonText);
    if (!draft) return;
    useFilters.setState(withItems([...draft.items, item], draft.combinator));
    return;
  }
  useFilters.setState(withItems([...s.items, item], s.combinator));
}

export function removeItem(key: number): void {
  const s = useFilters.getState();
  useFilters.setState(withItems(s.items.filter((it) => it.key !== key), s.combinator));
}

export function toggleNot(key: number): void {
  const s = useFilters.getState();
  useFilters.setState(withItems(s.items.map((it) => (it.key === key ? { ...it, not: !it.not } : it)), s.combinator));
}

/** Move an item one place up (the order matters for `then`). */
export function moveUp(key: number): void {
  const s = useFilters.getState();
  const i = s.items.findIndex((it) => it.key === key);
  if (i <= 0) return;
  const items = [...s.items];
  [items[i - 1], items[i]] = [items[i], items[i - 1]];
  useFilters.setState(withItems(items, s.combinator));
}

/** Load an item back into the form, to change it and add it again. */
export function editItem(key: number): void {
  const s = useFilters.getState();
  const it = s.items.find((x) => x.key === key);
  const kind = it && s.kinds?.find((k) => k.name === it.leaf.filter);
  if (it && kind) useFilters.setState({ form: formFromLeaf(kind, it.leaf) });
}

export function setCombinator(c: Combinator): void {
  const s = useFilters.getState();
  if (s.items.length > 1 && c === 'single') return;
  useFilters.setState(withItems(s.items, c));
}

// ---- JSON by hand ----

export function editAsJson(): void {
  const s = useFilters.getState();
  const spec = buildSpec(s.items, s.combinator);
  useFilters.setState({ mode: 'json', jsonText: spec === null ? '' : prettySpec(spec) });
}

export const setJsonText = (jsonText: string) => useFilters.setState({ jsonText });

/** Load a named spec into the JSON editor (the engine checks it as usual); nothing runs. */
export function loadPreset(spec: unknown): void {
  useFilters.setState({ mode: 'json', jsonText: JSON.stringify(spec, null, 2) });
}

/** Back to the list: it takes the typed spec when it has a list's shape; otherwise the JSON is dropped. */
export function backToBuilder(): void {
  const s = useFilters.getState();
  const draft = s.jsonText.trim() === '' ? { items: [], combinator: 'single' as Combinator } : jsonAsDraft(s.jsonText);
  useFilters.setState(draft ? { mode: 'build', items: draft.items, combinator: draft.items.length > 1 ? draft.combinator : 'single' } : { mode: 'build' });
}

// ---- the engine's verdict, debounced ----

let checkTimer: ReturnType<typeof setTimeout> | null = null;

function scheduleCheck(text: string | null): void {
  if (checkTimer) clearTimeout(checkTimer);
  checkTimer = null;
  if (text === null) {
    useFilters.setState({ check: null });
    return;
  }
  // Pending at once: Run waits for the verdict on exactly this text.
  useFilters.setState({ check: { text, status: 'pending', message: null } });
  checkTimer = setTimeout(async () => {
    checkTimer = null;
    const stillCurrent = () => useFilters.getState().check?.text === text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      if (stillCurrent()) useFilters.setState({ check: { text, status: 'error', message: `not valid JSON: ${errorMessage(e)}` } });
      return;
    }
    try {
      await client().validateSpec(parsed);
      if (stillCurrent()) useFilters.setState({ check: { text, status: 'ok', message: null } });
    } catch (e) {
      if (stillCurrent()) useFilters.setState({ check: { text, status: 'error', message: errorMessage(e) } });
    }
  }, CHECK_DELAY_MS);
}

useFilters.subscribe((s, prev) => {
  const text = specText(s);
  const changed = text !== specText(prev);
  // The last run's outcome is about the spec it ran: it goes when the spec changes.
  if (changed && s.runMessage && !s.running) useFilters.setState({ runMessage: null });
  if (changed || (text !== null && s.check === null)) scheduleCheck(text);
});

/** Whether Run may run: a spec the engine accepted, and no run under way. */
export function canRun(s: FiltersState): boolean {
  const text = specText(s);
  return text !== null && !s.running && s.check?.text === text && s.check.status === 'ok' && usePool.getState().status === 'open';
}

// ---- running ----

/**
 * Run the spec here, or on a Slurm cluster (`cluster`, state/clusterActions.ts): either way the
 * decision is stored under the same id, listed, and colours the map; a failure's message shows
 * beside Run.
 */
export async function runSpec(cluster?: SlurmClusterConfig): Promise<void> {
  const s = useFilters.getState();
  if (!canRun(s)) return; // nothing runs for a spec the engine has not accepted
  const text = specText(s)!;
  const job = cluster ? 'cluster' : 'filter';
  useFilters.setState({ running: true, runMessage: null });
  // An indeterminate bar until the engine reports (filters that are quick report nothing).
  updateProgress({ job, done: 0, total: 0, message: cluster ? 'planning and submitting' : 'running' });
  try {
    const summary = cluster ? await client().runFilterOnSlurm(JSON.parse(text), cluster) : await client().runFilter(JSON.parse(text));
    useFilters.setState((f) => {
      const reused = { ...f.reused };
      if (summary.reused) reused[summary.id] = true;
      else delete reused[summary.id];
      const how = summary.reused ? 'reused' : fmtSeconds(summary.seconds);
      return { reused, runMessage: { text: `${fmtInt(summary.kept)} of ${fmtInt(summary.total)} kept · ${how}`, error: false } };
    });
    await refreshDecisions();
    await showDecision(summary.id);
  } catch (e) {
    const cancelled = e instanceof SieveClientError && e.code === 'cancelled';
    useFilters.setState({ runMessage: { text: cancelled ? 'cancelled' : errorMessage(e), error: !cancelled } });
  } finally {
    useFilters.setState({ running: false });
    const p = useUi.getState().progress[job];
    if (p && !(p.total > 0 && p.done >= p.total)) clearProgress(job);
  }
}

export async function cancelRun(): Promise<void> {
  try {
    await client().cancelFilter();
  } catch (e) {
    reportError(errorMessage(e));
  }
}

// ---- stored decisions and the current one ----

export async function refreshDecisions(): Promise<void> {
  if (usePool.getState().status !== 'open') return;
  try {
    const list = await client().listDecisions();
    list.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
    useFilters.setState({ decisions: list });
  } catch (e) {
    reportError(`listing the decisions: ${errorMessage(e)}`);
  }
}

let showTicket = 0;

function setHook(id: string | null, kept: number | null) {
  testHook.decisionId = id;
  testHook.decisionKept = kept;
}

/** Make a decision the current one (the map is coloured by it), or none (cluster colours). */
export async function showDecision(id: string | null): Promise<void> {
  const ticket = ++showTicket;
  if (id === null) {
    if (recolor({ keep: null })) bumpMapVersion();
    useDecision.setState({ current: null, loading: null, keptOnMap: null });
    setHook(null, null);
    return;
  }
  useDecision.setState({ loading: id });
  try {
    const t0 = performance.now();
    // the mask comes unpacked with its kept rows counted (decisionData.ts)
    const { summary, keep, kept } = await decisionArrays(id);
    if (ticket !== showTicket) return;
    const t1 = performance.now();
    const rows = usePool.getState().pool?.rows ?? summary.total;
    if (keep.length !== rows) throw new Error(`decision ${id}: a mask of ${keep.length} rows, for a pool of ${rows}`);
    if (recolor({ keep })) bumpMapVersion();
    testHook.lastRecolor = { fetchMs: t1 - t0, colorMs: performance.now() - t1 };
    useDecision.setState({ current: summary, loading: null, keptOnMap: kept });
    setHook(id, kept);
  } catch (e) {
    if (ticket !== showTicket) return;
    useDecision.setState({ loading: null });
    reportError(`showing decision ${id}: ${errorMessage(e)}`);
  }
}

export function toggleHideDropped(): void {
  const hideDropped = !useDecision.getState().hideDropped;
  useDecision.setState({ hideDropped });
  if (recolor({ hideDropped })) bumpMapVersion();
}

/** A pool opened: its decisions are others; the map returns to cluster colours. */
export async function poolChanged(): Promise<void> {
  await showDecision(null);
  useFilters.setState({ decisions: [], reused: {}, runMessage: null });
  await refreshDecisions();
}
