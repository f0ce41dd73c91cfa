// The one way to wait: a cancellable sleep (Node's own timers/promises) and a poll with a deadline in
// time (never a count of turns, which stretches on a busy machine) that names what it waited for.
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waits `ms`; rejects at once when `signal` is or becomes aborted, with an Error "cancelled: REASON"
 * (the signal's reason, e.g. BullMQ's "worker stopped by SIGTERM"), which the step's failure shows.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    if (!signal?.aborted) throw err;
    const reason = signal.reason instanceof Error ? signal.reason.message : signal.reason;
    throw new Error(`cancelled${reason && !/aborted/i.test(String(reason)) ? `: ${reason}` : ''}`, { cause: err });
  }
}

export interface PollOptions {
  /** Give up after this long (ms) from the first check. */
  timeoutMs: number;
  /** Between checks (ms). */
  everyMs: number;
  /** Stops the wait at its next sleep (a step cancelled, a worker closing). */
  signal?: AbortSignal;
}

/** Thrown when a poll runs out: `what` was not true within `timeoutMs`; a retry may help. */
export class WaitTimeout extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`${what}: not so after ${timeoutMs / 1000} s`);
  }
}

/**
 * Check `check` until it returns a value other than undefined, null or false, and return that value.
 * `what` names the condition. After `timeoutMs` it throws `onTimeout()` when given (an error that says
 * what was last seen and what to do), else a WaitTimeout naming `what`; when the signal aborts,
 * sleep's Error "cancelled: REASON"; and whatever `check` throws (a check that knows it can never come true throws).
 */
export async function pollUntil<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, o: PollOptions & { onTimeout?: () => Error }): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== null && v !== false) return v as T;
    if (Date.now() >= deadline) throw o.onTimeout?.() ?? new WaitTimeout(what, o.timeoutMs);
    await sleep(Math.min(o.everyMs, Math.max(0, deadline - Date.now())), o.signal);
  }
}
