/**
 * Running the current spec on the configured Slurm cluster: the engine plans it, submits the job
 * arrays and follows them (native/cluster/slurm.ts); here the stages' progress is collected for
 * the view, and the run ends like a run in process (runSpec: stored, listed, colours the map).
 * Cancel is the filter's (cancelFilter scancels the run's jobs).
 */
import { client } from '../client/client.js';
import { testHook } from '../testHook.js';
import { clusterConfig, trackStage, useCluster } from './cluster.js';
import { canRun, runSpec } from './filterActions.js';
import { useFilters } from './filters.js';

let listening = false;

export async function runOnSlurm(): Promise<void> {
  if (!canRun(useFilters.getState()) || useCluster.getState().running) return;
  const config = clusterConfig(useCluster.getState().form);
  if ('error' in config) {
    useCluster.setState({ formError: config.error, formOpen: true });
    return;
  }
  if (!listening) {
    listening = true;
    client().onProgress((p) => {
      if (p.job !== 'cluster' || !p.stage) return;
      // the engine took the settings and submitted: fold them away so the stages show
      if (useCluster.getState().stages.length === 0) useCluster.setState({ formOpen: false });
      trackStage(p.stage);
    });
  }
  useCluster.setState({ running: true, stages: [], formError: null });
  try {
    await runSpec(config);
  } finally {
    useCluster.setState({ running: false });
  }
}

// for the e2e tests: the stages as the view has them
testHook.cluster = () => {
  const s = useCluster.getState();
  return { running: s.running, stages: s.stages };
};
