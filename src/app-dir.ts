import { fileURLToPath } from 'node:url';

/**
 * The directory that holds views/, static/ and build-info.json: the checkout when running
 * from source (src/), build/ when built. It is one level up from every module that can
 * contain this one (build/src/ and the bundle's build/app/), so the path holds for both.
 */
export const APP_DIR = fileURLToPath(new URL('..', import.meta.url));
