/**
 * Daemons (reference/heyo-api.md §2.8, `/me/daemons`): the hosts a user runs sandboxes on. heyod
 * is one daemon and lists itself. These routes mix casings on the wire (the cloud's), kept here.
 */
import * as Schema from "effect/Schema"

/** §3 DaemonStatus: `online` means a heartbeat within about 3 minutes. */
export const DaemonStatus = Schema.Literal("online", "stale", "offline")
export type DaemonStatus = typeof DaemonStatus.Type

export class DaemonInfo extends Schema.Class<DaemonInfo>("DaemonInfo")({
  id: Schema.String,
  name: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  /** Unknown statuses are kept as they came: a newer cloud may add some. */
  status: Schema.Union(DaemonStatus, Schema.String),
  lastSeenAt: Schema.String,
  createdAt: Schema.String
}) {}

export class DaemonList extends Schema.Class<DaemonList>("DaemonList")({
  daemons: Schema.Array(DaemonInfo)
}) {}

/**
 * `GET /me/daemons/:id/connection-ticket`. The key is `connectionUrl` as the Swift SDK decodes
 * it, while the Rust docs call it `connection_url` (reference §9, unverified): heyod sends both,
 * and this schema reads either.
 */
export const ConnectionTicket = Schema.Union(
  Schema.Struct({ connectionUrl: Schema.String }),
  Schema.Struct({ connection_url: Schema.String }).pipe(
    Schema.transform(Schema.Struct({ connectionUrl: Schema.String }), {
      strict: true,
      decode: (wire) => ({ connectionUrl: wire.connection_url }),
      encode: (ticket) => ({ connection_url: ticket.connectionUrl })
    })
  )
)

/** What heyod writes: both spellings of the key. */
export interface ConnectionTicketBody {
  readonly connectionUrl: string
  readonly connection_url: string
}

export class DaemonSandbox extends Schema.Class<DaemonSandbox>("DaemonSandbox")({
  id: Schema.String,
  name: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  status: Schema.String,
  image: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  backendType: Schema.optional(Schema.NullOr(Schema.String)).pipe(Schema.fromKey("backend_type")),
  isDeployed: Schema.optional(Schema.NullOr(Schema.Boolean)).pipe(Schema.fromKey("is_deployed"))
}) {}

export class DaemonSandboxes extends Schema.Class<DaemonSandboxes>("DaemonSandboxes")({
  daemonId: Schema.String,
  daemonName: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  sandboxes: Schema.Array(DaemonSandbox)
}) {}
