/**
 * The layer rules of DESIGN.md, checked in `npm test`:
 *   renderer -> native/api.ts (types only); electron -> native; native -> nothing above it.
 */
module.exports = {
  forbidden: [
    {
      name: 'native-not-above',
      comment: 'the engine never imports Electron, the renderer, React or the DOM side',
      severity: 'error',
      from: { path: '^native/' },
      to: { path: '^(electron|renderer)/|node_modules/(electron|react|react-dom|zustand|@deck\\.gl)/' },
    },
    {
      name: 'native-no-electron-package',
      severity: 'error',
      from: { path: '^native/' },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'core', 'unknown', 'undetermined'], path: '^electron$' },
    },
    {
      name: 'renderer-only-api-types',
      comment: 'the renderer reaches the engine only through native/api.ts, and only its types',
      severity: 'error',
      from: { path: '^renderer/' },
      to: { path: '^(native|electron)/', pathNot: '^native/api\\.ts$' },
    },
    {
      name: 'renderer-api-type-only',
      severity: 'error',
      from: { path: '^renderer/' },
      to: { path: '^native/api\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'renderer-no-node',
      comment: 'the renderer runs sandboxed: no Node built-ins',
      severity: 'error',
      from: { path: '^renderer/src/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'electron-not-renderer',
      severity: 'error',
      from: { path: '^electron/' },
      to: { path: '^renderer/' },
    },
    {
      name: 'no-circular',
      comment: 'runtime import cycles; cycles made only of type imports (the API contract naming audit types) are erased at compile time',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.tsx', '.js', '.cts', '.d.ts'] },
  },
};
