/** The Filters tab: add a filter from the catalogue, combine and check the spec, run it, pick a decision. */
import { AddFilter } from './AddFilter.js';
import { SpecEditor } from './SpecEditor.js';
import { DecisionList } from './DecisionList.js';
import { ClusterRun } from './ClusterRun.js';

export function FilterPanel() {
  return (
    <div className="filter-panel" data-testid="filter-panel">
      <section>
        <div className="section-title">
          <span title="pick a filter kind; its form comes from the engine's parameter schema">Add filter</span>
        </div>
        <AddFilter />
      </section>
      <section>
        <SpecEditor />
      </section>
      <section>
        <ClusterRun />
      </section>
      <section>
        <DecisionList />
      </section>
    </div>
  );
}
