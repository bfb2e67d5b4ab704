/** The left column: tabs for the filter panel and the cluster legend. */
import { FilterPanel } from '../filters/FilterPanel.js';
import { Legend } from '../map/Legend.js';
import { setSideTab, useUi, type SideTab } from '../state/ui.js';

const TABS: { id: SideTab; label: string; title: string }[] = [
  { id: 'filters', label: 'Filters', title: 'build, check and run filter specs; pick the decision the map shows' },
  { id: 'clusters', label: 'Clusters', title: 'the k-means clusters of the map, named by their captions' },
];

export function Sidebar() {
  const tab = useUi((s) => s.sideTab);
  return (
    <div className="sidebar">
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t.id} role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'on' : ''} onClick={() => setSideTab(t.id)} title={t.title} data-testid={`tab-${t.id}`}>
            {t.label}
          </button>
        ))}
      </div>
      <div className="sidebar-body">{tab === 'filters' ? <FilterPanel /> : <Legend />}</div>
    </div>
  );
}
