export * from './catalogue.js';
export * from './database.js';
export * from './errors.js';
export * from './event-store.js';
export * from './events/index.js';
export * from './hash.js';
export * from './schema.js';
export * from './verify.js';
