import type { z } from 'zod';

/** An older shape of an event's data and how to lift it one version up. */
export interface EventHistoryEntry {
  readonly version: number;
  readonly schema: z.ZodType;
  readonly upcast: (data: never) => unknown;
}

export interface EventDefinition<T extends string = string, S extends z.ZodType = z.ZodType> {
  readonly type: T;
  readonly version: number;
  readonly schema: S;
  /** Older versions, each upcast to the next one; the reader applies them in order. */
  readonly history: readonly EventHistoryEntry[];
  /** Data fields holding secret digests or hashes: shown as `<redacted>` by operator tools. */
  readonly redact: readonly string[];
}

export function defineEvent<T extends string, S extends z.ZodType>(
  type: T,
  schema: S,
  options: { version?: number; history?: EventHistoryEntry[]; redact?: string[] } = {},
): EventDefinition<T, S> {
  return {
    type,
    schema,
    version: options.version ?? 1,
    history: options.history ?? [],
    redact: options.redact ?? [],
  };
}

export type EventOf<D extends EventDefinition> = {
  readonly type: D['type'];
  readonly data: z.output<D['schema']>;
};

export interface Catalogue {
  readonly types: readonly string[];
  find(type: string): EventDefinition | undefined;
  /** Validates data against the current schema; returns what is stored. */
  encode(type: string, data: unknown): { schemaVersion: number; data: unknown };
  /** Parses stored data with the schema of its version, then upcasts to the current shape. */
  decode(type: string, schemaVersion: number, data: unknown): unknown;
}

export function createCatalogue(definitions: readonly EventDefinition[]): Catalogue {
  const byType = new Map<string, EventDefinition>();
  for (const d of definitions) {
    if (byType.has(d.type)) throw new Error(`event type ${d.type} defined twice`);
    byType.set(d.type, d);
  }
  const get = (type: string): EventDefinition => {
    const d = byType.get(type);
    if (!d) throw new Error(`unknown event type ${type}`);
    return d;
  };
  return {
    types: [...byType.keys()],
    find: (type) => byType.get(type),
    encode(type, data) {
      const d = get(type);
      return { schemaVersion: d.version, data: d.schema.parse(data) };
    },
    decode(type, schemaVersion, data) {
      const d = get(type);
      if (schemaVersion === d.version) return d.schema.parse(data);
      if (schemaVersion > d.version) {
        throw new Error(`${type} v${schemaVersion} is newer than this server (v${d.version})`);
      }
      let value: unknown = data;
      for (let v = schemaVersion; v < d.version; v++) {
        const step = d.history.find((h) => h.version === v);
        if (!step) throw new Error(`${type} has no upcaster from v${v}`);
        value = step.upcast(step.schema.parse(value) as never);
      }
      return d.schema.parse(value);
    },
  };
}
