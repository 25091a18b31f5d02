/**
 * The daemons (hosts) you run sandboxes on (reference/heyo-api.md §2.8, `/me/daemons`), as Heyo's
 * `Daemons`: list, get, delete, the sandboxes on one, and its connection ticket. A heyod is one
 * daemon and lists itself; its connection ticket reaches its own API over P2P, for
 * `HeyoClient.layerP2p`.
 *
 * @since 0.1.0
 */
import { HeyoDaemon } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HeyoClient, path } from "./HeyoClient.js"
import type * as HeyoError from "./HeyoError.js"

/** @since 0.1.0 */
export const DaemonInfo = HeyoDaemon.DaemonInfo
/** @since 0.1.0 */
export type DaemonInfo = HeyoDaemon.DaemonInfo
/** `online`, `stale` or `offline` (or a status a newer server adds). @since 0.1.0 */
export type DaemonStatus = HeyoDaemon.DaemonStatus
/** @since 0.1.0 */
export type DaemonSandboxes = HeyoDaemon.DaemonSandboxes
/** @since 0.1.0 */
export type DaemonSandbox = HeyoDaemon.DaemonSandbox

/** @since 0.1.0 */
export interface Service {
  readonly list: Effect.Effect<ReadonlyArray<DaemonInfo>, HeyoError.HttpError>
  readonly get: (daemonId: string) => Effect.Effect<DaemonInfo, HeyoError.HttpError>
  /**
   * Deregisters the daemon; an unknown one is success (already gone). Its sandboxes are not
   * deleted. On heyod this revokes its connection ticket: the next one is a new endpoint.
   */
  readonly delete: (daemonId: string) => Effect.Effect<void, Exclude<HeyoError.HttpError, HeyoError.NotFound>>
  /**
   * The sandboxes on the daemon. The Heyo cloud asks the daemon over P2P and answers 502 (`Api`)
   * when it cannot reach it; `timeout` bounds the call (default: the client's).
   */
  readonly listSandboxes: (
    daemonId: string,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<DaemonSandboxes, HeyoError.HttpError>
  /**
   * A `heyo://` ticket that reaches the daemon's API, for `HeyoClient.layerP2p`. 409 (`Api`)
   * when the daemon has none (on heyod: started with `--p2p off`). Anyone holding it reaches
   * the daemon's port: treat it like a credential.
   */
  readonly connectionTicket: (daemonId: string) => Effect.Effect<string, HeyoError.HttpError>
}

/** @since 0.1.0 */
export class Daemons extends Context.Tag("@heyo-effect/sdk/Daemons")<Daemons, Service>() {}

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient> = Effect.gen(function*() {
  const client = yield* HeyoClient
  const daemon = (id: string) => path`/me/daemons/${id}`
  return Daemons.of({
    list: client.json(HeyoDaemon.DaemonList, { method: "GET", path: "/me/daemons" }).pipe(
      Effect.map((list) => list.daemons),
      Effect.withSpan("Daemons.list")
    ),
    get: Effect.fn("Daemons.get")(function*(daemonId: string) {
      yield* Effect.annotateCurrentSpan("daemon.id", daemonId)
      return yield* client.json(HeyoDaemon.DaemonInfo, { method: "GET", path: daemon(daemonId) })
    }),
    delete: Effect.fn("Daemons.delete")(function*(daemonId: string) {
      yield* Effect.annotateCurrentSpan("daemon.id", daemonId)
      yield* client.execute({ method: "DELETE", path: daemon(daemonId) }).pipe(
        Effect.catchTag("NotFound", () => Effect.void)
      )
    }),
    listSandboxes: Effect.fn("Daemons.listSandboxes")(function*(
      daemonId: string,
      options?: { readonly timeout?: Duration.DurationInput | undefined }
    ) {
      yield* Effect.annotateCurrentSpan("daemon.id", daemonId)
      return yield* client.json(HeyoDaemon.DaemonSandboxes, {
        method: "GET",
        path: `${daemon(daemonId)}/sandboxes`,
        timeout: options?.timeout
      })
    }),
    connectionTicket: Effect.fn("Daemons.connectionTicket")(function*(daemonId: string) {
      yield* Effect.annotateCurrentSpan("daemon.id", daemonId)
      const ticket = yield* client.json(HeyoDaemon.ConnectionTicket, { method: "GET", path: `${daemon(daemonId)}/connection-ticket` })
      return ticket.connectionUrl
    })
  })
})

/** @since 0.1.0 */
export const layer: Layer.Layer<Daemons, never, HeyoClient> = Layer.effect(Daemons, make)

/** @since 0.1.0 */
export const list = Effect.flatMap(Daemons, (d) => d.list)
/** @since 0.1.0 */
export const get = (daemonId: string) => Effect.flatMap(Daemons, (d) => d.get(daemonId))
/** @since 0.1.0 */
export const remove = (daemonId: string) => Effect.flatMap(Daemons, (d) => d.delete(daemonId))
/** @since 0.1.0 */
export const listSandboxes = (daemonId: string, options?: { readonly timeout?: Duration.DurationInput | undefined }) =>
  Effect.flatMap(Daemons, (d) => d.listSandboxes(daemonId, options))
/** @since 0.1.0 */
export const connectionTicket = (daemonId: string) => Effect.flatMap(Daemons, (d) => d.connectionTicket(daemonId))
