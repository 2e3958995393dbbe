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

/** Index of the quote that closes the JSON string whose opening quote is at `open`, or -1. */
function closingQuote(json: string, open: number): number {
  for (let at = json.indexOf('"', open + 1); at >= 0; at = json.indexOf('"', at + 1)) {
    let slashes = 0;
    while (json[at - 1 - slashes] === '\\') slashes += 1;
    if (slashes % 2 === 0) return at;
  }
  return -1;
}

/**
 * The path a file or folder op acts on. A text file's payload carries its whole content
 * (up to megabytes), so it is parsed whole only when the cheap reading fails. The sequence
 * `"path":"` cannot occur inside a JSON string (a quote there is always escaped), so where
 * it opens the object or its string value closes the object, it is the top-level key: the
 * desktop writes keys in sorted order, which puts `path` last.
 */
export function opPath(entityId: string, payloadJson: string): string {
  const last = payloadJson.lastIndexOf(PATH_KEY);
  if (last < 0 && !payloadJson.includes('"path"')) return entityId;
  for (const at of payloadJson.startsWith(`{${PATH_KEY}`) ? [1, last] : [last]) {
    if (at < 0) continue;
    const open = at + PATH_KEY.length - 1;
    const close = closingQuote(payloadJson, open);
    const closesObject = close === payloadJson.length - 2 && payloadJson.endsWith('}');
    if (close > open && (at === 1 || closesObject)) {
      try {
        return (JSON.parse(payloadJson.slice(open, close + 1)) as string) || entityId;
      } catch {
        break; // Not valid JSON after all: the full parse below decides.
      }
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

/**
 * The paths a relocation moves things from and to, as the desktop reads them; [''] (every
 * path) when its payload names none.
 */
export function touchedPaths(entityType: string, entityId: string, payload: Payload): string[] {
  if (isPathOp(entityType)) {
    const moved = relocationOf(entityType, entityId, payload);
    return moved ? [moved.from, moved.to] : [''];
  }
  const paths = ['previousPath', 'path', 'name']
    .map((f) => stringField(payload, f))
    .filter(Boolean);
  return paths.length > 0 ? paths : [''];
}

/** The folders above a path, nearest first, ending with '' (the vault's root). */
export function ancestorsOf(path: string): string[] {
  const found: string[] = [];
  for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) {
    found.push(path.slice(0, at));
  }
  found.push('');
  return found;
}

/** `path` itself or anything below it. */
export const isUnder = (root: string, path: string) =>
  path === root ||
  (path.length > root.length && path.startsWith(root) && path[root.length] === '/');
