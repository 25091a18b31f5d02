/**
 * The Sprites port watch WebSocket (reference/sprites-api.md §2.11): the client sends nothing;
 * the server sends `port_list` on connect, then `port_opened` / `port_closed` as listeners come
 * and go. heyod's `address` is the bind address (`127.0.0.1`, `0.0.0.0`, `::`), as the Go SDK
 * reads it, and `pid` the listening process as the sandbox numbers it (0 when unknown).
 */
import * as Schema from "effect/Schema"

export class PortNotification extends Schema.Class<PortNotification>("PortNotification")({
  port: Schema.Int,
  address: Schema.String,
  pid: Schema.Int
}) {}

export const PortList = Schema.Struct({
  type: Schema.Literal("port_list"),
  ports: Schema.Array(PortNotification)
})

export const PortChange = Schema.Struct({
  type: Schema.Literal("port_opened", "port_closed"),
  port: Schema.Int,
  address: Schema.String,
  pid: Schema.Int
})

export const PortMessage = Schema.Union(PortList, PortChange)
export type PortMessage = typeof PortMessage.Type

export const PortMessageFromJson = Schema.parseJson(PortMessage)
