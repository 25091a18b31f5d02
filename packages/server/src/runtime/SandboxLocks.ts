/**
 * One mutex per sandbox id: create, start, stop and destroy of one sandbox run one at a time (a
 * stop racing a start must not unmount under it); different sandboxes proceed in parallel.
 * Commands (exec, files) do not take it: they only read the running state.
 */
import * as Effect from "effect/Effect"

export class SandboxLocks {
  private readonly locks = new Map<string, { readonly semaphore: Effect.Semaphore; users: number }>()

  withLock<A, E, R>(id: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.acquireUseRelease(
      Effect.sync(() => {
        let entry = this.locks.get(id)
        if (entry === undefined) {
          entry = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
          this.locks.set(id, entry)
        }
        entry.users++
        return entry
      }),
      (entry) => entry.semaphore.withPermits(1)(effect),
      // forget an id nobody waits on, so the map does not grow with every sandbox ever made
      (entry) =>
        Effect.sync(() => {
          entry.users--
          if (entry.users === 0) this.locks.delete(id)
        })
    )
  }
}
