import type { FastifyInstance } from 'fastify';

/** Every `METHOD /url` an app has registered, read from fastify's own route tree. */
export function registeredRoutes(app: FastifyInstance): string[] {
  const printed = app.printRoutes({ commonPrefix: false });
  // printRoutes draws a tree: each level is indented by four characters.
  const stack: string[] = [];
  return printed.split('\n').flatMap((line) => {
    const match = /^([│ ├└─]*)(\S+) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) return [];
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack[depth] = match[2]!;
    const url = stack.join('');
    return match[3]!.split(', ').map((m) => `${m} ${url}`);
  });
}
