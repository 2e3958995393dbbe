import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { RateAction, RateLimiter } from '../http/rate-limit.js';

/** A form field: absent, repeated or odd values read as '' and fail the page's own checks. */
export const field = z.string().catch('');

/** Parses a form body; anything unexpected reads as empty fields, never as a 500. */
export function readForm<S extends z.ZodObject>(schema: S, request: FastifyRequest): z.output<S> {
  const parsed = schema.safeParse(request.body);
  return parsed.success ? parsed.data : schema.parse({});
}

/** The shared limiter (the JSON API counts in the same buckets); false past the limit. */
export function withinLimit(
  limiter: RateLimiter,
  action: RateAction,
  request: FastifyRequest,
  account?: string,
): boolean {
  try {
    limiter.check(action, request.ip, account);
    return true;
  } catch (err) {
    if (err instanceof AppError && err.status === 429) return false;
    throw err;
  }
}

/** A 429 from a budget counted past the route's own check (the account's, in the database). */
export const isRateLimited = (err: unknown): err is AppError =>
  err instanceof AppError && err.status === 429;

export const isClientError = (err: unknown): err is AppError =>
  err instanceof AppError && err.status >= 400 && err.status < 500;
