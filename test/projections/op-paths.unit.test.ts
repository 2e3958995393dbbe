import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { isRelocation, opPath, relocationOf } from '../../src/projections/op-paths.js';

describe('opPath', () => {
  it('reads the payload path, or the entity_id when there is none', () => {
    expect(opPath('a.md', JSON.stringify({ contentHash: 'h', content: 'x', path: 'b.md' }))).toBe(
      'b.md',
    );
    expect(opPath('a.md', JSON.stringify({ path: 'b.md', content: 'x' }))).toBe('b.md');
    expect(opPath('a.md', JSON.stringify({ content: 'x' }))).toBe('a.md');
    expect(opPath('a.md', '')).toBe('a.md');
    expect(opPath('a.md', JSON.stringify({ path: '' }))).toBe('a.md');
    expect(opPath('a.md', '{ "path" : "b.md" }')).toBe('b.md');
    expect(opPath('a.md', JSON.stringify({ path: 'q\\"x\\', content: 'c' }))).toBe('q\\"x\\');
    expect(opPath('a.md', JSON.stringify({ content: 'c', path: 'q\\"x\\' }))).toBe('q\\"x\\');
  });

  it('is not fooled by a "path" inside the content or a nested object', () => {
    const content = '{"path":"evil.md"}';
    expect(opPath('a.md', JSON.stringify({ content, path: 'b.md' }))).toBe('b.md');
    expect(opPath('a.md', JSON.stringify({ content }))).toBe('a.md');
    expect(opPath('a.md', JSON.stringify({ path: 'b.md', meta: { path: 'c.md' } }))).toBe('b.md');
    expect(opPath('a.md', JSON.stringify({ meta: { path: 'c.md' } }))).toBe('a.md');
  });

  test.prop([fc.dictionary(fc.string(), fc.jsonValue()), fc.option(fc.string()), fc.boolean()])(
    'agrees with a full parse of any payload',
    (fields, path, first) => {
      const payload: Record<string, unknown> = first && path !== null ? { path } : {};
      Object.assign(payload, fields);
      if (path !== null && !first) payload.path = path;
      const json = JSON.stringify(payload);
      const parsed = (JSON.parse(json) as Record<string, unknown>).path;
      expect(opPath('entity', json)).toBe(typeof parsed === 'string' && parsed ? parsed : 'entity');
    },
  );
});

describe('relocations', () => {
  it('are moves and renames of paths, and a workspace’s lifecycle past its create', () => {
    expect(isRelocation('file', 'move')).toBe(true);
    expect(isRelocation('folder', 'rename')).toBe(true);
    expect(isRelocation('file', 'update')).toBe(false);
    expect(isRelocation('workspace', 'create')).toBe(false);
    expect(isRelocation('workspace', 'trash')).toBe(true);
    expect(isRelocation('workspace-folder', 'move')).toBe(true);
    expect(isRelocation('plugin-record', 'update')).toBe(false);
  });

  it('read fromPath/toPath for files and previousPath/path for workspaces', () => {
    expect(relocationOf('file', 'a', { toPath: 'b' })).toEqual({ from: 'a', to: 'b' });
    expect(relocationOf('file', 'a', { fromPath: 'x', toPath: 'b' })).toEqual({
      from: 'x',
      to: 'b',
    });
    expect(relocationOf('workspace', 'id', { previousPath: 'W', path: 'W2' })).toEqual({
      from: 'W',
      to: 'W2',
    });
    expect(relocationOf('file', 'a', {})).toBeUndefined();
  });
});
