// Zones (STYLE.md): src/ is plain Node (no electron, no DOM); renderer/ runs in a sandboxed page
// (no Node built-ins, no native code); electron/ is the thin shell. test/zones.test.ts proves
// each rule fires.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const domGlobals = ['window', 'document', 'navigator', 'localStorage', 'sessionStorage', 'location', 'fetch', 'XMLHttpRequest', 'WebSocket', 'HTMLElement'];

/** What the core (src/) may not import: the shell and the UI (STYLE.md zones). */
const coreImports = {
  paths: [
    { name: 'electron', message: 'src/ is the core: no electron (STYLE.md zones)' },
    { name: 'react', message: 'src/ is the core: no UI code' },
    { name: 'react-dom', message: 'src/ is the core: no UI code' },
  ],
  patterns: [{ group: ['electron/*', '@electron/*'], message: 'src/ is the core: no electron' }],
};
/** Outside src/api nothing depends on the IPC layer: it depends on the core (verify, usecases…), never the other way. */
const notApi = [{ group: ['**/api/*'], message: 'only src/api imports the IPC contract: the core does not depend on the app (put the shared model in the core, and let src/api map it)' }];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'release/', 'test-results/', 'coverage/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.property.name='exec'][callee.object.name='child_process']", message: 'use execFile with an argument list' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: coreImports.paths, patterns: [...coreImports.patterns, ...notApi] }],
      'no-restricted-globals': ['error', ...domGlobals.map((name) => ({ name, message: 'src/ runs without a DOM' }))],
      // a function a reviewer can hold in their head: the rules live in src/usecases, the callers stay short
      'max-lines-per-function': ['error', { max: 80 }],
    },
  },
  {
    // the IPC layer is the one part of the core that may import the IPC contract
    files: ['src/api/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', coreImports] },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.tsx'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...nodeBuiltins.map((name) => ({ name, message: 'renderer/ runs sandboxed: no Node built-ins (call the preload API)' })),
          { name: 'pkcs11js', message: 'native code lives only in the main process' },
          { name: 'electron', message: 'renderer/ talks to main only through the preload API' }],
        patterns: [{ group: ['**/src/pkcs11/*', '**/src/cli/*', 'node:*'], message: 'renderer/ must not import the core directly: use the preload API' }],
      }],
      'no-restricted-globals': ['error', { name: 'require', message: 'no Node in the renderer' }, { name: 'process', message: 'no Node in the renderer' }],
    },
  },
  {
    files: ['electron/preload/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'pkcs11js', message: 'native code lives only in the main process' }] }],
    },
  },
);
