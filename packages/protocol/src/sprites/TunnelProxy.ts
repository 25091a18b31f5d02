/**
 * The Sprites TCP proxy WebSocket (reference/sprites-api.md §2.12): the client's first text frame
 * names the target, the server answers with a status frame, then raw binary frames both ways.
 * One WebSocket per TCP connection; a normal close (1000/1001) is EOF.
 */
import * as Schema from "effect/Schema"

export const Port = Schema.Int.pipe(Schema.between(1, 65535))

/** `host` defaults to `localhost`. */
export class ProxyInit extends Schema.Class<ProxyInit>("ProxyInit")({
  host: Schema.optionalWith(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255)), { default: () => "localhost" }),
  port: Port
}) {}

export const ProxyInitFromJson = Schema.parseJson(ProxyInit)

/** Any `status` other than `connected` is a failure (the Go SDK's reading). */
export class ProxyStatus extends Schema.Class<ProxyStatus>("ProxyStatus")({
  status: Schema.String,
  target: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
}) {}

export const ProxyStatusFromJson = Schema.parseJson(ProxyStatus)
