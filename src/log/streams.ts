/** A vault's operations: user ids are hex, so the first '/' after them ends the user part. */
export const vaultStream = (userId: string, vaultId: string) => `vault/${userId}/${vaultId}`;

export function parseVaultStream(stream: string): { userId: string; vaultId: string } {
  const rest = stream.slice('vault/'.length);
  const slash = rest.indexOf('/');
  return { userId: rest.slice(0, slash), vaultId: rest.slice(slash + 1) };
}
