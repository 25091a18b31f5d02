/**
 * One mutex per key: lifecycle operations on one sandbox (create, start, stop, destroy) run one
 * at a time, so a stop racing a start never unmounts under it; other keys proceed in parallel.
 * Used by the engine and the runtime driver alike.
 */
import * as Effect from "effect/Effect"

export class KeyedLock {
  private readonly locks = new Map<string, { readonly semaphore: Effect.Semaphore; users: number }>()

  withLock<A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.acquireUseRelease(
      Effect.sync(() => {
        let entry = this.locks.get(key)
        if (entry === undefined) {
          entry = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
          this.locks.set(key, entry)
        }
        entry.users++
        return entry
      }),
      (entry) => entry.semaphore.withPermits(1)(effect),
      // Drop the entry once nobody waits on it, so the map does not grow with every sandbox ever made.
      (entry) =>
        Effect.sync(() => {
          entry.users--
          if (entry.users === 0) this.locks.delete(key)
        })
    )
  }
}
