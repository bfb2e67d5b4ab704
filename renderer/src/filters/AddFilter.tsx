/**
 * "Add filter": pick a kind from the engine's catalogue; its form is generated from the param
 * schema (numbers with their range, enums as selects, paths as text, a number that also takes a
 * keyword and a "file or keyword" as text with the words in the placeholder, a oneOf group as a radio
 * choice), pre-filled with the defaults, each field's description one hover (or focus) away.
 */
import { useState, type ReactNode } from 'react';
import type { FilterKindInfo, ParamSchema } from '../../../native/api.js';
import { useFilters } from '../state/filters.js';
import { addFromForm, chooseKind, chooseOneOf, jsonAsDraft, setParam } from '../state/filterActions.js';
import { compactSpec, formLeaf, groupOf, rangeText, textPlaceholder, type FormState } from './draft.js';

export function AddFilter() {
  const kinds = useFilters((s) => s.kinds);
  const kindsError = useFilters((s) => s.kindsError);
  const form = useFilters((s) => s.form);
  const mode = useFilters((s) => s.mode);
  const jsonText = useFilters((s) => s.jsonText);
  // The description of the field last focused, shown under the form: below the Add button, so that
  // focus moving (a press on Add) never shifts the button under the pointer.
  const [hintFor, setHintFor] = useState<string | null>(null);
  if (kindsError) return <div className="error-text small">the filter catalogue could not be read: {kindsError}</div>;
  if (!kinds || !form) return <div className="muted small">reading the filter catalogue…</div>;
  const kind = kinds.find((k) => k.name === form.kind) ?? kinds[0];
  const leaf = formLeaf(kind, form);
  // In JSON mode the filter goes into the typed spec, which must then be a list's shape.
  const hintSchema = hintFor ? kind.params[hintFor] : undefined;
  const hint = hintFor && hintSchema ? ([hintFor, hintSchema.description] as const) : null;
  const canAdd = mode === 'build' || jsonText.trim() === '' || jsonAsDraft(jsonText) !== null;

  const fields: ReactNode[] = [];
  const done = new Set<number>();
  for (const [name, schema] of Object.entries(kind.params)) {
    const g = groupOf(kind, name);
    if (g < 0) {
      fields.push(<ParamField key={name} name={name} schema={schema} form={form} />);
    } else if (!done.has(g)) {
      done.add(g);
      fields.push(<OneOf key={`oneof-${g}`} kind={kind} group={g} form={form} />);
    }
  }

  return (
    <form
      className="add-filter"
      data-testid="add-filter-form"
      onFocus={(e) => {
        const param = (e.target as HTMLElement).dataset.param;
        if (param) setHintFor(param);
      }}
      onSubmit={(e) => {
        e.preventDefault();
        if (canAdd) addFromForm();
      }}
    >
      <select className="kind-select" value={kind.name} onChange={(e) => chooseKind(e.target.value)} data-testid="filter-kind" aria-label="filter kind">
        {kinds.map((k) => (
          <option key={k.name} value={k.name}>
            {k.title} ({k.name})
          </option>
        ))}
      </select>
      <div className="kind-description" data-testid="kind-description">
        {kind.description}
      </div>
      <div className="kind-citation" title="where the definition comes from">
        {kind.citation}
      </div>
      {fields.length > 0 ? <div className="params">{fields}</div> : <div className="muted small">no parameters</div>}
      <div className="add-row">
        <code className="leaf-preview" title="the filter as a spec" data-testid="leaf-preview">
          {compactSpec(leaf)}
        </code>
        <button type="submit" disabled={!canAdd} data-testid="add-filter" title={canAdd ? 'add this filter to the spec below' : 'the typed JSON is not a list of filters: go back to the builder to add'}>
          + Add
        </button>
      </div>
      {hint && (
        <div className="param-hint" data-testid="param-hint">
          <b>{hint[0]}</b>: {hint[1]}
        </div>
      )}
    </form>
  );
}

function OneOf({ kind, group, form }: { kind: FilterKindInfo; group: number; form: FormState }) {
  const params = kind.oneOf![group];
  const chosen = form.choice[group] ?? params[0];
  return (
    <>
      <div className="param-row oneof" role="radiogroup" title={`give exactly one of: ${params.join(', ')}`}>
        <span className="param-name muted">one of</span>
        <span className="oneof-choices">
          {params.map((p) => (
            <label key={p} title={kind.params[p]?.description}>
              <input type="radio" name={`oneof-${kind.name}-${group}`} checked={chosen === p} onChange={() => chooseOneOf(group, p)} data-testid={`param-choice-${p}`} data-param={p} />
              {p}
            </label>
          ))}
        </span>
      </div>
      {kind.params[chosen] && <ParamField name={chosen} schema={kind.params[chosen]} form={form} />}
    </>
  );
}

function ParamField({ name, schema, form }: { name: string; schema: ParamSchema; form: FormState }) {
  const value = form.values[name] ?? '';
  const id = `param-${name}`;
  const range = rangeText(schema);
  let input: ReactNode;
  if (schema.type === 'enum') {
    input = (
      <select id={id} value={value} onChange={(e) => setParam(name, e.target.value)} data-testid={id} data-param={name} title={schema.description}>
        {value === '' && <option value="">–</option>}
        {schema.values.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    );
  } else if ((schema.type === 'number' || schema.type === 'int') && !schema.keywords?.length) {
    input = (
      <input
        id={id}
        type="number"
        step={schema.type === 'int' ? 1 : 'any'}
        min={schema.min}
        max={schema.max}
        value={value}
        placeholder={schema.default === undefined ? 'not set' : String(schema.default)}
        onChange={(e) => setParam(name, e.target.value)}
        data-testid={id}
        data-param={name}
        title={schema.description}
      />
    );
  } else {
    input = (
      <input
        id={id}
        type="text"
        value={value}
        spellCheck={false}
        placeholder={textPlaceholder(schema)}
        onChange={(e) => setParam(name, e.target.value)}
        data-testid={id}
        data-param={name}
        title={schema.description}
      />
    );
  }
  return (
    <div className="param">
      <div className="param-row">
        <label className="param-name" htmlFor={id} title={schema.description}>
          {name}
        </label>
        {input}
        {range && (
          <span className="param-range" title="allowed values">
            {range}
          </span>
        )}
      </div>
    </div>
  );
}
