/**
 * Private networks, members and the services registry (reference/heyo-api.md §2.7), as heyod
 * serves them. A live service's `connection_url` and a dial's answer are `heyo://` iroh tickets
 * (transport `iroh_tcp_proxy`, as on Heyo), or heyod's `heyo+ws://` tickets (`ws_tcp_proxy`,
 * protocol heyo/Tunnel.ts) when heyod runs with `--p2p off` or the dial asks `?transport=ws`.
 */
import * as Schema from "effect/Schema"

const nullable = <S extends Schema.Schema.Any>(schema: S, key: string) =>
  Schema.optionalWith(Schema.NullOr(schema), { default: () => null }).pipe(Schema.fromKey(key))

/** reference/heyo-api.md §3 NetworkMemberKind. heyod routes `local` and `deployed` (its sandboxes). */
export const NetworkMemberKind = Schema.Literal("local", "deployed", "host", "database_local", "database_cloud")
export type NetworkMemberKind = typeof NetworkMemberKind.Type

/** A service name as it resolves inside a member sandbox: one DNS label. */
export const ServiceName = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/),
  Schema.annotations({ description: "a DNS label: lower-case letters, digits and '-', at most 63" })
)

export class NetworkInfo extends Schema.Class<NetworkInfo>("NetworkInfo")({
  id: Schema.String,
  accountId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("account_id")),
  name: Schema.String,
  isDefault: Schema.propertySignature(Schema.Boolean).pipe(Schema.fromKey("is_default")),
  description: nullable(Schema.String, "description"),
  createdAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("created_at")),
  updatedAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("updated_at"))
}) {}

export class NetworkList extends Schema.Class<NetworkList>("NetworkList")({
  networks: Schema.Array(NetworkInfo)
}) {}

export class NetworkCreateBody extends Schema.Class<NetworkCreateBody>("NetworkCreateBody")({
  name: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128)),
  description: Schema.optional(Schema.NullOr(Schema.String))
}) {}

/** `description: null` clears it; an absent field is left as is. */
export class NetworkPatchBody extends Schema.Class<NetworkPatchBody>("NetworkPatchBody")({
  name: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))),
  description: Schema.optional(Schema.NullOr(Schema.String))
}) {}

export class NetworkMember extends Schema.Class<NetworkMember>("NetworkMember")({
  networkId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("network_id")),
  sandboxKind: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("sandbox_kind")),
  sandboxRef: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("sandbox_ref")),
  deviceName: nullable(Schema.String, "device_name"),
  registeredAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("registered_at")),
  lastSeenAt: nullable(Schema.String, "last_seen_at")
}) {}

export class MemberList extends Schema.Class<MemberList>("MemberList")({
  members: Schema.Array(NetworkMember)
}) {}

export class MemberAddBody extends Schema.Class<MemberAddBody>("MemberAddBody")({
  sandboxKind: Schema.propertySignature(NetworkMemberKind).pipe(Schema.fromKey("sandbox_kind")),
  sandboxRef: Schema.propertySignature(Schema.String.pipe(Schema.minLength(1))).pipe(Schema.fromKey("sandbox_ref")),
  deviceName: Schema.optional(Schema.NullOr(Schema.String)).pipe(Schema.fromKey("device_name"))
}) {}

/** A running service's transport (`iroh_tcp_proxy` or `ws_tcp_proxy`), `agent_proxy_pending` otherwise. */
export const ServiceTransport = Schema.Literal("iroh_tcp_proxy", "ws_tcp_proxy", "agent_proxy_pending")

/** heyod's `?transport=` on dial: `iroh` (the default) or `ws`. */
export const DialTransport = Schema.Literal("iroh", "ws")

export class NetworkService extends Schema.Class<NetworkService>("NetworkService")({
  id: Schema.String,
  networkId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("network_id")),
  name: Schema.String,
  address: Schema.String,
  sandboxKind: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("sandbox_kind")),
  sandboxRef: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("sandbox_ref")),
  port: Schema.Int,
  protocol: Schema.String,
  status: Schema.String,
  connectionUrl: nullable(Schema.String, "connection_url"),
  lastSeenAt: nullable(Schema.String, "last_seen_at"),
  transport: Schema.optional(Schema.String)
}) {}

export const ServiceList = Schema.Array(NetworkService)

export class ServiceRegisterBody extends Schema.Class<ServiceRegisterBody>("ServiceRegisterBody")({
  name: ServiceName,
  sandboxKind: Schema.propertySignature(NetworkMemberKind).pipe(Schema.fromKey("sandbox_kind")),
  sandboxRef: Schema.propertySignature(Schema.String.pipe(Schema.minLength(1))).pipe(Schema.fromKey("sandbox_ref")),
  port: Schema.Int.pipe(Schema.between(1, 65535)),
  protocol: Schema.optionalWith(Schema.Literal("tcp"), { default: () => "tcp" as const }),
  connectionUrl: Schema.optional(Schema.NullOr(Schema.String)).pipe(Schema.fromKey("connection_url"))
}) {}

export class ServiceRoute extends Schema.Class<ServiceRoute>("ServiceRoute")({
  address: Schema.String,
  transport: Schema.String,
  connectionUrl: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("connection_url"))
}) {}
