/** A value now, or later: what a walk of 10^5 files returns where nearly every step needs no I/O wait. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * `f(x)` at once where `x` is a value, after it settles where it is a promise. A promise and an
 * await per file cost more than the lstat that decided the file's fate.
 */
export function andThen<T, R>(x: MaybePromise<T>, f: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return x instanceof Promise ? x.then(f) : f(x);
}
