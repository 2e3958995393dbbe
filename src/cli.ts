import { applyServerHeapFlags } from './heap-flags.js';

// Before the CLI's modules are loaded: loading them is what first grows the heap.
applyServerHeapFlags(process.argv.slice(2));
const { main } = await import('./cli/index.js');
await main(process.argv);
