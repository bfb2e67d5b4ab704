/**
 * The cluster slice: the Slurm cluster the app sends runs to (as typed in the Cluster form, kept in
 * localStorage like the recent pools, so it outlives the session), and the stages of the run on it
 * that is under way or last ended, as the engine's `cluster` progress events describe them.
 */
import { create } from 'zustand';
import type { ClusterStageProgress, SlurmClusterConfig } from '../../../native/api.js';

const KEY = 'sieve.slurmCluster';

/** The form's fields as typed (text), so a half-typed number is not lost or rewritten. */
export interface ClusterForm {
  /** the command that reaches the login node, e.g. `ssh login`; empty: Slurm's commands run where the engine runs */
  login: string;
  partition: string;
  /** absolute path of the work folder, on storage the nodes and the engine's machine share */
  work: string;
  /** the command that starts Sieve's CLI on a node, e.g. `/usr/bin/node /opt/sieve/bin/sieve.js`; empty: the engine's own */
  sieve: string;
  workers: string;
  /** shard groups (tasks per map stage); empty: as many as workers */
  tasks: string;
  retries: string;
}

/** One stage as last reported, with what the run has shown of it so far (for the view and the tests). */
export interface StageView extends ClusterStageProgress {
  /** the most tasks seen running, and pending, at once */
  peakRunning: number;
  peakPending: number;
  /** every reason Slurm gave for pending tasks, in the order first seen */
  reasons: string[];
}

export interface ClusterState {
  form: ClusterForm;
  /** whether the form is shown: folded at start (one line says what is configured; most runs are
   * local, so the panel's room goes to the filters), opened by its toggle or by a form error */
  formOpen: boolean;
  /** a run on the cluster is under way */
  running: boolean;
  /** the stages of the current or last run that have reported, in plan order */
  stages: StageView[];
  /** why the form's values cannot be sent (checked here before the engine sees them), or null */
  formError: string | null;
}

export const EMPTY_FORM: ClusterForm = { login: '', partition: '', work: '', sieve: '', workers: '4', tasks: '', retries: '2' };

function load(): ClusterForm {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? 'null') as Partial<Record<keyof ClusterForm, unknown>> | null;
    if (!v || typeof v !== 'object') return { ...EMPTY_FORM };
    const form = { ...EMPTY_FORM };
    for (const k of Object.keys(form) as (keyof ClusterForm)[]) if (typeof v[k] === 'string') form[k] = v[k] as string;
    return form;
  } catch {
    return { ...EMPTY_FORM };
  }
}

const initial = load();

export const useCluster = create<ClusterState>(() => ({
  form: initial,
  formOpen: false,
  running: false,
  stages: [],
  formError: null,
}));

export function setClusterField(field: keyof ClusterForm, value: string): void {
  const form = { ...useCluster.getState().form, [field]: value };
  useCluster.setState({ form, formError: null });
  try {
    localStorage.setItem(KEY, JSON.stringify(form));
  } catch {
    /* storage may be off */
  }
}

export const toggleClusterForm = () => useCluster.setState((s) => ({ formOpen: !s.formOpen }));

/**
 * The form as the engine's SlurmClusterConfig, or the field that is not a number. Everything else
 * (an absolute work folder, a partition name) is the engine's to judge: its message names the field.
 */
export function clusterConfig(form: ClusterForm): SlurmClusterConfig | { error: string } {
  const config: SlurmClusterConfig = { login: form.login.trim(), work: form.work.trim() };
  if (form.partition.trim()) config.partition = form.partition.trim();
  const sieve = form.sieve.trim().split(/\s+/).filter(Boolean);
  if (sieve.length) config.sieve = sieve;
  for (const field of ['workers', 'tasks', 'retries'] as const) {
    const text = form[field].trim();
    if (text === '') continue;
    if (!/^\d+$/.test(text)) return { error: `${field}: '${text}' is not a whole number` };
    config[field] = Number(text);
  }
  return config;
}

/** Fold one `cluster` progress event into the stage list. */
export function trackStage(p: ClusterStageProgress): void {
  useCluster.setState((s) => {
    const i = s.stages.findIndex((x) => x.name === p.name);
    const old = i >= 0 ? s.stages[i] : null;
    const view: StageView = {
      ...p,
      peakRunning: Math.max(old?.peakRunning ?? 0, p.running ?? 0),
      peakPending: Math.max(old?.peakPending ?? 0, p.pending ?? 0),
      reasons: p.reason && !old?.reasons.includes(p.reason) ? [...(old?.reasons ?? []), p.reason] : (old?.reasons ?? []),
    };
    const stages = [...s.stages];
    if (i >= 0) stages[i] = view;
    else {
      // stages report in any order (a one-task reduce may report before the map it follows): list
      // them in plan order
      stages.push(view);
      stages.sort((a, b) => a.index - b.index);
    }
    return { stages };
  });
}
