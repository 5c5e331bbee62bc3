// Zones (STYLE.md): src/ is plain Node (no electron, no DOM); renderer/ runs in a sandboxed page
// (no Node built-ins, no native code); electron/ is the thin shell. test/zones.test.ts proves
// each rule fires.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const domGlobals = ['window', 'document', 'navigator', 'localStorage', 'sessionStorage', 'location', 'fetch', 'XMLHttpRequest', 'WebSocket', 'HTMLElement'];

/**
 * The sealed PKCS#11 layer (issue 16): only src/pkcs11/** loads pkcs11js, makes a C_* call or names
 * a CKA_/CKM_/CKO_/CKK_ constant; everything else calls a function there. A mechanism name written
 * as format data (the Azure .byok header's enc, the names export.json and backup blobs record)
 * lives in src/export/mechanism-names.ts, the one file outside the layer where a string may be one.
 */
const pkcs11Import = { name: 'pkcs11js', message: 'only src/pkcs11/** loads the PKCS#11 binding: call a function of src/pkcs11 (issue 16, sealed layer)' };
const SEALED = 'PKCS#11 stays inside src/pkcs11/** (issue 16): call or add a function there (named mechanisms: src/pkcs11/mechanisms.ts; templates: src/pkcs11/templates.ts)';
const execRule = { selector: "CallExpression[callee.property.name='exec'][callee.object.name='child_process']", message: 'use execFile with an argument list' };
const sealedNames = [
  { selector: "CallExpression[callee.type='MemberExpression'][callee.property.name=/^C_[A-Z]/]", message: `a raw C_* call: ${SEALED}` },
  { selector: 'Identifier[name=/^CK[AMOKRGZ]_/]', message: `a raw PKCS#11 constant: ${SEALED}` },
  { selector: "CallExpression[callee.name='require'] > Literal[value='pkcs11js']", message: `loading pkcs11js: ${SEALED}` },
  { selector: "CallExpression[callee.type='CallExpression'] > Literal[value='pkcs11js']", message: `loading pkcs11js (createRequire): ${SEALED}` },
  { selector: "ImportExpression[source.value='pkcs11js']", message: `loading pkcs11js: ${SEALED}` },
];
const sealedStrings = [
  { selector: 'Literal[value=/^CK[AMOK]_[A-Za-z0-9_]+$/]', message: `a PKCS#11 name as a string: if it is format data, put it in src/export/mechanism-names.ts; else ${SEALED}` },
  { selector: 'TemplateElement[value.raw=/^CK[AMOK]_/]', message: `a PKCS#11 name as a string: if it is format data, put it in src/export/mechanism-names.ts; else ${SEALED}` },
];
/** What the core (src/) may not import: the shell and the UI (STYLE.md zones). */
const coreImports = {
  paths: [
    { name: 'electron', message: 'src/ is the core: no electron (STYLE.md zones)' },
    { name: 'react', message: 'src/ is the core: no UI code' },
    { name: 'react-dom', message: 'src/ is the core: no UI code' },
    pkcs11Import,
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
      'no-restricted-syntax': ['error', execRule],
    },
  },
  {
    // the sealed layer, everywhere but inside it (tests are the token's independent witnesses: they may call it raw)
    files: ['**/*.ts', '**/*.tsx', '**/*.js', '**/*.mjs'],
    ignores: ['src/pkcs11/**', 'test/**'],
    rules: { 'no-restricted-syntax': ['error', execRule, ...sealedNames, ...sealedStrings] },
  },
  {
    files: ['src/export/mechanism-names.ts'],
    rules: { 'no-restricted-syntax': ['error', execRule, ...sealedNames] },
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
    // inside the layer: the core's rules, and pkcs11js allowed
    files: ['src/pkcs11/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: coreImports.paths.filter((p) => p !== pkcs11Import), patterns: [...coreImports.patterns, ...notApi] }] },
  },
  {
    files: ['electron/main/**/*.ts', 'scripts/**/*.ts', 'scripts/**/*.mjs'],
    rules: { 'no-restricted-imports': ['error', { paths: [pkcs11Import] }] },
  },
  {
    files: ['electron/preload/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'pkcs11js', message: 'native code lives only in the main process' }] }],
    },
  },
);
