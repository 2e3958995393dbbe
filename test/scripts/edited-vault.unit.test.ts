import { describe, expect, it } from 'vitest';
import {
  differenceFrom,
  editedVault,
  pushBatches,
  QUICK_VAULT,
  type VaultShape,
} from '../../scripts/bench/edited-vault.js';

// The first-sync bench checks the server's answers against these expectations, so they
// must follow from the shape alone.

const SMALL: VaultShape = {
  ...QUICK_VAULT,
  ops: 1_000,
  folders: 3,
  notes: 40,
  deletes: 22,
  recreates: 20,
};

describe.each([
  ['small', SMALL],
  ['quick', QUICK_VAULT],
])('the %s edited vault', (_name, shape) => {
  const { ops, expected } = editedVault(shape);
  const countOf = (type: string, opType: string) =>
    ops.filter((o) => o.entity_type === type && o.op_type === opType).length;

  it('has the ops of its shape', () => {
    expect(ops).toHaveLength(shape.ops);
    expect(countOf('folder', 'create')).toBe(shape.folders);
    expect(countOf('file', 'create')).toBe(shape.notes + shape.recreates);
    expect(countOf('file', 'delete')).toBe(shape.deletes);
    expect(
      ops.every((o) => o.entity_id === (JSON.parse(o.payload_json) as { path: string }).path),
    ).toBe(true);
  });

  it('expects the live paths, and as kept the ops no later write of their path replaces', () => {
    const liveFiles = shape.notes - shape.deletes + shape.recreates;
    expect(expected.state.size).toBe(shape.folders + liveFiles);
    // Written from the README's rule, one op at a time over the rest of the history: content
    // goes once any later write of the path comes; a delete once an update or delete does.
    const kept = ops.filter((op, i) => {
      if (op.entity_type !== 'file') return true;
      const later = ops.slice(i + 1).filter((o) => o.entity_id === op.entity_id);
      if (op.op_type !== 'delete') return later.length === 0;
      return !later.some((o) => o.op_type !== 'create');
    }).length;
    expect(expected.kept).toBe(kept);
    expect(kept).toBeGreaterThan(shape.folders + liveFiles);
  });

  it('replays its whole history to the expected state, and misses a lost op', () => {
    expect(differenceFrom(expected, ops)).toBeUndefined();
    const lastCreate = ops.findLastIndex((o) => o.op_type === 'create');
    expect(differenceFrom(expected, ops.toSpliced(lastCreate, 1))).toMatch(/missing/);
  });

  it('is pushed in batches with unique op_ids, devices taking turns', () => {
    const batches = [...pushBatches(ops, shape)];
    expect(batches).toHaveLength(Math.ceil(shape.ops / shape.batch));
    expect(batches.slice(0, 4).map((b) => b.device)).toEqual([0, 1, 2, 0]);
    const ids = batches.flatMap((b) =>
      (JSON.parse(b.body) as { ops: { op_id: string }[] }).ops.map((o) => o.op_id),
    );
    expect(new Set(ids).size).toBe(shape.ops);
  });

  it('is the same vault every time', () => {
    expect(editedVault(shape).ops).toEqual(ops);
  });
});
