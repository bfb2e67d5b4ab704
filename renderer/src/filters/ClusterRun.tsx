/**
 * Running the spec on a Slurm cluster: the "Run on Slurm" button (beside Run), the cluster's
 * settings (kept in this browser's or app's storage; folded at start into one line that says what
 * is set, and folded again once a run is submitted), and the run's stages as Slurm runs
 * them: tasks done of each stage, running, pending with Slurm's reason, and rows inside running tasks.
 * docs/cluster-slurm.md says what each setting means to the engine.
 */
import { useCluster, setClusterField, toggleClusterForm, type ClusterForm, type StageView } from '../state/cluster.js';
import { runOnSlurm } from '../state/clusterActions.js';
import { canRun } from '../state/filterActions.js';
import { useFilters } from '../state/filters.js';
import { usePool } from '../state/pool.js';
import { fmtCompact, fmtInt } from '../format.js';

const FIELDS: { field: keyof ClusterForm; label: string; placeholder: string; help: string }[] = [
  { field: 'login', label: 'login', placeholder: 'ssh login (empty: here)', help: "the command that runs Slurm's sbatch, squeue and scancel on the login node, given them as one shell command line; empty: they run where the engine runs" },
  { field: 'work', label: 'work dir', placeholder: '/shared/sieve-work', help: 'an absolute path on storage that every node and the engine see at that same path (the pool must be there too): the plan, task outputs, logs and job scripts go here' },
  { field: 'partition', label: 'partition', placeholder: "(the cluster's default)", help: 'the Slurm partition the jobs go to (#SBATCH --partition)' },
  { field: 'sieve', label: 'node sieve', placeholder: '/usr/bin/node /opt/sieve/bin/sieve.js', help: "the command that starts Sieve's CLI on a node (node, then bin/sieve.js); empty: the engine's own (with `sieve serve`; the desktop app needs it)" },
  { field: 'workers', label: 'workers', placeholder: '4', help: "tasks of one stage that run at once (the job array's %N throttle)" },
  { field: 'tasks', label: 'tasks', placeholder: '(= workers)', help: 'shard groups: tasks per map stage (empty: as many as workers)' },
  { field: 'retries', label: 'retries', placeholder: '2', help: "resubmissions of a stage's failed tasks before the run fails" },
];

/** The button beside Run. */
export function RunOnSlurmButton() {
  const f = useFilters();
  usePool((p) => p.status);
  const work = useCluster((s) => s.form.work.trim());
  const runnable = canRun(f) && work !== '';
  return (
    <button
      className="run-slurm"
      onClick={() => void runOnSlurm()}
      disabled={!runnable}
      data-testid="run-slurm"
      title={
        f.running ? 'a filter is running' : work === '' ? 'set the cluster up first (Cluster, below)' : runnable ? 'run this spec as Slurm job arrays on the cluster set up below' : 'the engine has not accepted this spec'
      }
    >
      Run on Slurm
    </button>
  );
}

export function ClusterRun() {
  const s = useCluster();
  return (
    <div className="cluster-run" data-testid="cluster-run">
      <div className="section-title">
        <span title="a Slurm cluster to run specs on (docs/cluster-slurm.md)">Cluster (Slurm)</span>
        <button className="link-button" onClick={toggleClusterForm} data-testid="cluster-settings-toggle" aria-expanded={s.formOpen}>
          {s.formOpen ? 'hide settings' : 'settings…'}
        </button>
      </div>
      {s.formOpen ? (
        <div className="cluster-form" data-testid="cluster-form">
          {FIELDS.map(({ field, label, placeholder, help }) => (
            <label key={field} className="cluster-field" title={help}>
              <span>{label}</span>
              <input type="text" value={s.form[field]} placeholder={placeholder} onChange={(e) => setClusterField(field, e.target.value)} spellCheck={false} data-testid={`cluster-${field}`} />
            </label>
          ))}
        </div>
      ) : (
        <div className="muted small cluster-summary" data-testid="cluster-summary">
          {summary(s.form)}
        </div>
      )}
      {s.formError && (
        <div className="error-text small" data-testid="cluster-form-error">
          {s.formError}
        </div>
      )}
      {s.stages.length > 0 && <Stages stages={s.stages} running={s.running} />}
    </div>
  );
}

/**
 * The folded settings in one line, so what a run would use shows without opening them:
 * `via ssh login · gpu · /shared/work · 4 workers, 8 tasks, 2 retries`.
 */
function summary(form: ClusterForm): string {
  if (!form.work.trim()) return 'not set up: open the settings';
  const where = [form.login.trim() ? `via ${form.login.trim()}` : 'here'];
  if (form.partition.trim()) where.push(form.partition.trim());
  where.push(form.work.trim());
  // an empty count is the engine's default, which it names itself: say only what was typed
  const counts = (['workers', 'tasks', 'retries'] as const).filter((k) => form[k].trim()).map((k) => `${form[k].trim()} ${k}`);
  return [...where, counts.join(', ')].filter(Boolean).join(' · ');
}

function Stages({ stages, running }: { stages: StageView[]; running: boolean }) {
  return (
    <table className="cluster-stages" data-testid="cluster-stages" data-running={running}>
      <thead>
        <tr>
          <th title="the plan's stages, in order (docs/cluster.md)">stage</th>
          <th title="tasks whose done marker is written / tasks of the stage">tasks</th>
          <th title="what Slurm's queue shows: running, and pending with Slurm's reason">queue</th>
        </tr>
      </thead>
      <tbody>
        {stages.map((st) => {
          const share = st.tasks > 0 ? st.done / st.tasks : 0;
          return (
            <tr
              key={st.name}
              data-testid="cluster-stage"
              data-stage={st.name}
              data-done={st.done}
              data-tasks={st.tasks}
              title={`${st.name}${st.jobs?.length ? ` · Slurm job ${st.jobs.join(', ')}` : ''}${st.note ? `\n${st.note}` : ''}`}
            >
              <td className="mono">{st.name}</td>
              <td>
                <div className="stage-bar">
                  <div className="stage-fill" style={{ width: `${share * 100}%` }} />
                </div>
                <span className="num">
                  {fmtInt(st.done)}/{fmtInt(st.tasks)}
                </span>
              </td>
              <td className="small">{queueText(st)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** `2 running · 3 pending (Dependency) · 41k/62k rows`, or the executor's note (submitted, done, resubmitted...). */
function queueText(st: StageView): string {
  if (st.done >= st.tasks) return 'done';
  if (st.running === undefined && st.pending === undefined) return st.note?.replace(/^job [\d, ]+: /, '') ?? '';
  const parts = [`${st.running ?? 0} running`];
  if (st.pending) parts.push(`${st.pending} pending${st.reason ? ` (${st.reason})` : ''}`);
  if (st.rowsTotal) parts.push(`${fmtCompact(st.rowsDone ?? 0)}/${fmtCompact(st.rowsTotal)} rows`);
  return parts.join(' · ');
}
