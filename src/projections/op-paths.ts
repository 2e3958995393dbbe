/**
 * The few payload fields the server reads to know which vault paths an op touches, named
 * as the desktop applies them (internal/api app_sync.go): a file or folder op acts on
 * `path`, or on its entity_id when the payload has none; a move goes from `fromPath` (or
 * the entity_id) to `toPath`; workspace and workspace-folder renames move a directory from
 * `previousPath` to `path`. Everything else in a payload stays opaque.
 */

/** Op types whose only effect is a path's content (file) or existence (folder). */
export const isContentOp = (entityType: string, opType: string) =>
  (entityType === 'file' && (opType === 'create' || opType === 'update')) ||
  (entityType === 'folder' && opType === 'create');

export const isPathOp = (entityType: string) => entityType === 'file' || entityType === 'folder';

/**
 * Ops that can carry existing paths somewhere else (moves, renames, a workspace's trash
 * and restore). Ops of entity types the server does not know move nothing it tracks.
 */
export function isRelocation(entityType: string, opType: string): boolean {
  if (isPathOp(entityType))
    return opType !== 'create' && opType !== 'update' && opType !== 'delete';
  if (entityType === 'workspace') return opType !== 'create';
  return entityType === 'workspace-folder';
}

type Payload = Record<string, unknown>;

/** The payload as an object; an empty, invalid or non-object payload reads as {}. */
export function payloadObject(payloadJson: string): Payload {
  if (payloadJson === '') return {};
  try {
    const parsed: unknown = JSON.parse(payloadJson);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Payload)
      : {};
  } catch {
    return {};
  }
}

export const stringField = (payload: Payload, field: string) => {
  const value = payload[field];
  return typeof value === 'string' ? value : '';
};

const PATH_KEY = '"path":"';

/**
 * The path a file or folder op acts on. A text file's payload carries its whole content
 * (up to megabytes), so it is parsed only when the cheap reading fails. The desktop writes
 * keys in sorted order, which puts `path` last: `..."path":"<string>"}`. The sequence
 * `"path":"` cannot occur inside a JSON string (a quote there is always escaped), so when
 * the text ends with it and a valid string literal, that is the top-level key's value.
 */
export function opPath(entityId: string, payloadJson: string): string {
  const at = payloadJson.lastIndexOf(PATH_KEY);
  if (at < 0 && !payloadJson.includes('"path"')) return entityId;
  if (at >= 0 && payloadJson.endsWith('"}')) {
    try {
      const value: unknown = JSON.parse(payloadJson.slice(at + PATH_KEY.length - 1, -1));
      if (typeof value === 'string') return value || entityId;
    } catch {
      // Not the last key: read it the slow way.
    }
  }
  return stringField(payloadObject(payloadJson), 'path') || entityId;
}

/** Where a relocation moves a path from and to; undefined when it names no source or target. */
export function relocationOf(
  entityType: string,
  entityId: string,
  payload: Payload,
): { from: string; to: string } | undefined {
  const [from, to] = isPathOp(entityType)
    ? [stringField(payload, 'fromPath') || entityId, stringField(payload, 'toPath')]
    : [stringField(payload, 'previousPath'), stringField(payload, 'path')];
  return from && to && from !== to ? { from, to } : undefined;
}

/** `path` itself or anything below it. */
export const isUnder = (root: string, path: string) =>
  path === root ||
  (path.length > root.length && path.startsWith(root) && path[root.length] === '/');
