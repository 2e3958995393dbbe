import { describe, expect, it } from 'vitest';
import { inSeqGap, readEpoch, readSeqGaps, recordRestore, verifyLog } from '../../src/log/index.js';
import { AT, META, allRows, openLog, registered } from '../helpers/log.js';

const append = (log: ReturnType<typeof openLog>, id: string) =>
  log.store.append([{ stream: `user/${id}`, events: [registered(id)] }], META, AT);

describe('the seq gap a restore records', () => {
  it('makes the next append jump past it, keeps the chain and passes verify', () => {
    const log = openLog();
    for (const id of ['a', 'b', 'c']) append(log, id);
    recordRestore(log.db, 'epoch-2', { after: 3, resumeAfter: 1_000_000_003 });
    expect(readEpoch(log.db)).toBe('epoch-2');
    append(log, 'd');
    append(log, 'e');
    expect(allRows(log.db).map((r) => r.seq)).toEqual([1, 2, 3, 1_000_000_004, 1_000_000_005]);
    expect(log.store.head()).toBe(1_000_000_005);
    expect(verifyLog(log.db).problems).toEqual([]);
  });

  it('is the only gap verify accepts', () => {
    const log = openLog();
    for (const id of ['a', 'b']) append(log, id);
    recordRestore(log.db, 'epoch-2', { after: 2, resumeAfter: 100 });
    append(log, 'c');
    // The same jump, recorded elsewhere: now it is an unexplained gap.
    log.db
      .prepare("UPDATE log_info SET value = ? WHERE key = 'seq_gaps'")
      .run(JSON.stringify([{ after: 1, resumeAfter: 100 }]));
    const problems = verifyLog(log.db).problems.map((p) => p.problem);
    expect(problems.some((p) => p.startsWith('sequence gap'))).toBe(true);
    expect(problems.some((p) => p.startsWith('inside the gap'))).toBe(true);
  });

  it('refuses no event outright but reports one stored inside the gap', () => {
    const log = openLog();
    append(log, 'a');
    append(log, 'b');
    // Recorded after the fact over seqs that exist: verify names them.
    log.db
      .prepare("INSERT INTO log_info (key, value) VALUES ('seq_gaps', ?)")
      .run(JSON.stringify([{ after: 1, resumeAfter: 10 }]));
    expect(verifyLog(log.db).problems).toEqual([
      { seq: 2, problem: 'inside the gap a restore recorded (1, 10]' },
    ]);
  });

  it('restored twice at the same head: one gap, the wider one', () => {
    const log = openLog();
    append(log, 'a');
    recordRestore(log.db, 'e2', { after: 1, resumeAfter: 50 });
    recordRestore(log.db, 'e3', { after: 1, resumeAfter: 40 });
    expect(readSeqGaps(log.db)).toEqual([{ after: 1, resumeAfter: 50 }]);
    append(log, 'b');
    recordRestore(log.db, 'e4', { after: 51, resumeAfter: 200 });
    expect(readSeqGaps(log.db)).toHaveLength(2);
    append(log, 'c');
    expect(allRows(log.db).map((r) => r.seq)).toEqual([1, 51, 201]);
    expect(verifyLog(log.db).problems).toEqual([]);
    expect([1, 2, 50, 51, 52, 200, 201].map((s) => inSeqGap(readSeqGaps(log.db), s))).toEqual([
      false,
      true,
      true,
      false,
      true,
      true,
      false,
    ]);
  });
});
