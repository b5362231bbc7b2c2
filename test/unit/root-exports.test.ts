import { describe, expect, it } from 'vitest';
import * as root from '../../src/index.js';
import * as client from '../../src/client.js';

describe('library root', () => {
  it('exports what the README and issue 6 name: createNode, createStaticNode, runDaemon, connect, parseAddr', () => {
    for (const name of [
      'createNode',
      'createStaticNode',
      'runDaemon',
      'connect',
      'parseAddr',
      'loadConfig',
    ]) {
      expect(typeof (root as Record<string, unknown>)[name], name).toBe('function');
    }
  });

  it('re-exports every binding of pilot/client', () => {
    for (const [name, value] of Object.entries(client)) {
      expect((root as Record<string, unknown>)[name], name).toBe(value);
    }
  });
});
