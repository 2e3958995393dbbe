import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { planFirstSync, type PlanOp } from '../../src/projections/first-sync-plan.js';

type Spec = [
  entityType: string,
  opType: string,
  entityId: string,
  payload?: Record<string, unknown>,
];

/** Ops at seq 1, 2, ... as the plan reads them from vault_ops and the log. */
const ops = (...specs: Spec[]): PlanOp[] =>
  specs.map(([entityType, opType, entityId, payload = {}], i) => ({
    seq: i + 1,
    entityType,
    entityId,
    opType,
    path: typeof payload.path === 'string' && payload.path ? payload.path : entityId,
    payload: () => payload,
  }));

describe('planFirstSync', () => {
  it('sends a note edited many times once, as its last op', () => {
    const plan = planFirstSync(
      ops(
        ['file', 'create', 'a.md'],
        ['file', 'update', 'a.md'],
        ['file', 'update', 'a.md'],
        ['file', 'create', 'b.md'],
      ),
    );
    expect(plan).toEqual([{ seq: 3 }, { seq: 4 }]);
  });

  it('sends nothing for a deleted path and the re-created content of a path created again', () => {
    const plan = planFirstSync(
      ops(
        ['file', 'create', 'a.md'],
        ['file', 'delete', 'a.md'],
        ['file', 'create', 'b.md'],
        ['file', 'delete', 'b.md'],
        ['file', 'create', 'b.md'],
      ),
    );
    expect(plan).toEqual([{ seq: 5 }]);
  });

  it('derives a create at the target of a move, at the origin op’s seq', () => {
    const plan = planFirstSync(
      ops(
        ['file', 'create', 'a.md'],
        ['file', 'update', 'a.md'],
        ['file', 'move', 'a.md', { fromPath: 'a.md', toPath: 'b.md' }],
      ),
    );
    expect(plan).toEqual([{ seq: 2, derive: { kind: 'file', path: 'b.md', source: 2 } }]);
  });

  it('carries a folder’s subtree through a folder move and drops a folder delete’s subtree', () => {
    const plan = planFirstSync(
      ops(
        ['folder', 'create', 'F'],
        ['file', 'create', 'F/x.md'],
        ['folder', 'move', 'F', { toPath: 'G' }],
        ['folder', 'create', 'T'],
        ['file', 'create', 'T/y.md'],
        ['folder', 'delete', 'T'],
      ),
    );
    expect(plan).toEqual([
      { seq: 1, derive: { kind: 'folder', path: 'G', source: 1 } },
      { seq: 2, derive: { kind: 'file', path: 'G/x.md', source: 2 } },
    ]);
  });

  it('creates a renamed workspace once at its final path, with its files there', () => {
    const plan = planFirstSync(
      ops(
        ['workspace', 'create', 'ws1', { workspaceId: 'ws1', path: 'W', name: 'W' }],
        ['file', 'create', 'W/a.md'],
        [
          'workspace',
          'rename',
          'ws1',
          { workspaceId: 'ws1', path: 'W2', previousPath: 'W', name: 'W2' },
        ],
        ['workspace', 'create', 'ws2', { workspaceId: 'ws2', path: 'V', name: 'V' }],
      ),
    );
    expect(plan).toEqual([
      { seq: 1, derive: { kind: 'workspace', path: 'W2', source: 3 } },
      { seq: 2, derive: { kind: 'file', path: 'W2/a.md', source: 2 } },
      { seq: 4 },
    ]);
  });

  it('leaves a trashed workspace out and brings a restored one back with its files', () => {
    const plan = planFirstSync(
      ops(
        ['workspace', 'create', 'ws1', { workspaceId: 'ws1', path: 'W' }],
        ['file', 'create', 'W/a.md'],
        ['workspace', 'trash', 'ws1', { workspaceId: 'ws1', path: 'W' }],
        ['workspace', 'create', 'ws2', { workspaceId: 'ws2', path: 'V' }],
        ['file', 'create', 'V/b.md'],
        ['workspace', 'trash', 'ws2', { workspaceId: 'ws2', path: 'V' }],
        ['workspace', 'restore', 'ws2', { workspaceId: 'ws2', path: 'V' }],
      ),
    );
    expect(plan).toEqual([
      { seq: 4, derive: { kind: 'workspace', path: 'V', source: 7 } },
      { seq: 5 },
    ]);
  });

  it('keeps the last tree order and every op of an entity type it does not know', () => {
    const plan = planFirstSync(
      ops(
        ['workspace-tree-order', 'update', 'order'],
        ['plugin-record', 'create', 'r1'],
        ['workspace-tree-order', 'update', 'order'],
        ['plugin-record', 'update', 'r1'],
        ['note', 'delete', 'n1'],
      ),
    );
    expect(plan).toEqual([{ seq: 2 }, { seq: 3 }, { seq: 4 }, { seq: 5 }]);
  });

  const pathArb = fc.constantFrom('a', 'b', 'a/x', 'a/y', 'b/x', 'c');
  const specArb: fc.Arbitrary<Spec> = fc.oneof(
    fc.tuple(
      fc.constantFrom('file', 'folder'),
      fc.constantFrom('create', 'update', 'delete'),
      pathArb,
    ),
    fc
      .tuple(fc.constantFrom('file', 'folder'), pathArb, pathArb)
      .map(([type, from, to]): Spec => [type, 'move', from, { toPath: to }]),
    fc
      .tuple(
        fc.constantFrom('w1', 'w2'),
        fc.constantFrom('create', 'rename', 'trash', 'restore'),
        pathArb,
        pathArb,
      )
      .map(([id, op, path, previousPath]): Spec => [
        'workspace',
        op,
        id,
        { workspaceId: id, path, previousPath },
      ]),
    fc.tuple(fc.constant('plugin-record'), fc.constantFrom('create', 'update'), fc.constant('r')),
  );

  test.prop([fc.array(specArb, { maxLength: 40 })])(
    'gives strictly increasing seqs within the log',
    (specs) => {
      const plan = planFirstSync(ops(...specs));
      for (let i = 1; i < plan.length; i++) expect(plan[i]!.seq).toBeGreaterThan(plan[i - 1]!.seq);
      for (const row of plan) expect(row.seq).toBeLessThanOrEqual(specs.length);
    },
  );
});
