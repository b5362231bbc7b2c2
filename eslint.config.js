// Lint rules, including the layer boundaries from DEVELOPERS.md, enforced by import-x.
// Layers depend one way: coreapi <- transport <- streams <- node (composition) <- cmd.
// registry and beacon servers depend on coreapi (+ transport codecs/keys); runtime and ipc on coreapi only;
// plugins depend on coreapi only. cmd may use the library root (src/index.ts), src/node and the servers' entry points.
import js from '@eslint/js';
import { readdirSync } from 'node:fs';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

const pluginDirs = readdirSync('./src/plugins', { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

/** A target folder may import only from the listed src/ folders. */
const only = (target, allowed) => ({
  target: `./src/${target}`,
  from: './src',
  except: allowed.map((a) => `./${a}`),
  message: `layer rule: src/${target} may import only from ${allowed.join(', ')}`,
});

const zones = [
  only('coreapi', ['coreapi']),
  only('transport', ['coreapi', 'transport']),
  only('streams', ['coreapi', 'transport', 'streams']),
  only('registry', ['coreapi', 'transport', 'registry']),
  only('ipc', ['coreapi', 'ipc']),
  only('beacon', ['coreapi', 'transport', 'beacon']),
  only('runtime', ['coreapi', 'runtime']),
  ...pluginDirs.map((p) => only(`plugins/${p}`, ['coreapi', `plugins/${p}`])),
  {
    target: './src/node',
    from: './src/plugins',
    except: ['./index.ts'],
    message: 'layer rule: the composition uses plugins only through src/plugins/index.ts',
  },
  { target: './src', from: './cmd', message: 'layer rule: nothing in src/ imports cmd/' },
  { target: './src', from: './bench', message: 'layer rule: nothing in src/ imports bench/' },
  {
    target: './cmd',
    from: ['./src/transport', './src/streams', './src/runtime', './src/ipc'],
    message:
      'layer rule: cmd/ is thin and imports the composition (src/node, src/index.ts), coreapi and plugins/index.ts',
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/**/*.ts', 'cmd/**/*.ts'],
    rules: { 'import-x/no-default-export': 'error' },
  },
  {
    // Benchmarks drive third-party CommonJS peers (udx-native, secret-stream) that ship no types.
    files: ['bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
