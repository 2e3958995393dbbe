import type { FastifyInstance, FastifyReply } from 'fastify';

/** Runs `work` once `reply` has been handed to the socket; see createAfterReply. */
export type AfterReply = (reply: FastifyReply, failure: string, work: () => void) => void;

/**
 * Work that a request causes but whose answer must not depend on it, run once the answer
 * has gone out: a forgot-password request answers the same whether or not the address has
 * an account, and only by doing the work after the answer does its timing say the same
 * (RELIABILITY.md §2.2). The work runs when the response closes (sent, or the client gone:
 * the request was accepted either way). It runs on the event loop like any other, so a
 * request arriving meanwhile waits for it; what that tells is the load, not which request
 * caused it. A failure is logged under `failure`, never thrown: the client has its answer.
 * The app's close runs whatever is still pending, before the runtime closes the database.
 */
export function createAfterReply(app: FastifyInstance): AfterReply {
  const pending = new Set<() => void>();
  const run = (job: () => void) => {
    if (pending.delete(job)) job();
  };
  // onClose hooks run once the server has closed its connections, whose responses have
  // therefore run their work already; this is for any the close event did not reach.
  app.addHook('onClose', (_instance, done) => {
    for (const job of [...pending]) run(job);
    done();
  });
  return (reply, failure, work) => {
    const job = () => {
      try {
        work();
      } catch (err) {
        reply.log.error({ err }, failure);
      }
    };
    pending.add(job);
    // A client that left before the handler got here: its close has been and gone.
    if (reply.raw.destroyed) setImmediate(() => run(job));
    else reply.raw.once('close', () => run(job));
  };
}
