import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addUser, ensureBuilt, makeDataDir, removeTempDirs, runCli } from './helpers.js';

beforeAll(() => ensureBuilt(), 180_000);
afterEach(() => removeTempDirs());

const listed = async (dataDir: string) => {
  const result = await runCli(['user', 'list', '--data', dataDir, '--json']);
  return result.stdout;
};

describe('user delete', () => {
  it('asks for the username and deletes nothing when it is not typed back', async () => {
    const dataDir = makeDataDir();
    await addUser(dataDir, 'carol');
    const result = await runCli(['user', 'delete', '--data', dataDir, 'carol'], {
      input: 'caro\n',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('type the username to confirm');
    expect(result.stderr).toContain('not confirmed: nothing was deleted');
    expect(await listed(dataDir)).toContain('carol');
  });

  it('deletes by username once confirmed, and verify and replay --check still pass', async () => {
    const dataDir = makeDataDir();
    await addUser(dataDir, 'carol');
    await addUser(dataDir, 'dave');
    const result = await runCli(['user', 'delete', '--data', dataDir, 'carol'], {
      input: 'carol\n',
    });
    expect(result.stderr).not.toContain('warning');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^deleted user carol \(id \w+\): UserDeleted at seq 3, 1 events redacted/,
    );
    expect(await listed(dataDir)).not.toContain('carol');
    expect(await listed(dataDir)).toContain('dave');
    expect((await runCli(['verify', '--data', dataDir])).code).toBe(0);
    expect((await runCli(['replay', '--data', dataDir, '--check'])).code).toBe(0);
    const audit = await runCli(['audit', '--data', dataDir, '--json']);
    expect(audit.code).toBe(0);
    expect(audit.stdout).not.toContain('carol@example.com');
  });

  it('deletes by id with --yes, and refuses an unknown user', async () => {
    const dataDir = makeDataDir();
    const id = await addUser(dataDir, 'carol');
    const yes = await runCli(['user', 'delete', '--data', dataDir, id, '--yes']);
    expect(yes.code).toBe(0);
    const again = await runCli(['user', 'delete', '--data', dataDir, id, '--yes']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no user with id or username ${id}`);
  });
});
