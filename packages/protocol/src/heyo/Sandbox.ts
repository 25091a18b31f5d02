/**
 * Sandbox lifecycle bodies of the Heyo dialect (reference/heyo-api.md §2.1).
 *
 * Models are camelCase in TypeScript and snake_case on the wire (`Schema.fromKey`), so the SDK
 * decodes and heyod encodes through the very same schema.
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import { NetworkPolicy } from "../sprites/NetworkPolicy.js"
import { SandboxDriver, SandboxRegion, SandboxSize, SandboxStatusTolerant } from "./Enums.js"

/** `sb-` followed by 8 lowercase alphanumerics on heyod; any string from other servers. */
export const SandboxId = Schema.String.pipe(Schema.brand("SandboxId"))
export type SandboxId = typeof SandboxId.Type

export const SandboxIdPattern = /^sb-[0-9a-z]{8}$/

const Port = Schema.Int.pipe(Schema.between(1, 65535))
const NonNegativeInt = Schema.Int.pipe(Schema.nonNegative())

const nullable = <S extends Schema.Schema.Any>(schema: S, key: string) =>
  Schema.optionalWith(Schema.NullOr(schema), { default: () => null }).pipe(Schema.fromKey(key))

export class BoundUrl extends Schema.Class<BoundUrl>("BoundUrl")({
  subdomain: Schema.String,
  hostname: Schema.optionalWith(Schema.String, { default: () => "" }),
  url: Schema.optionalWith(Schema.String, { default: () => "" }),
  port: Port,
  isPublic: Schema.optionalWith(Schema.Boolean, { default: () => true }).pipe(Schema.fromKey("is_public"))
}) {}

/**
 * The body of `POST /sandbox-deploy`. Every field is optional: the SDK fills the cloud's defaults,
 * raw clients may not, and the server then applies its own.
 */
export class SandboxCreateBody extends Schema.Class<SandboxCreateBody>("SandboxCreateBody")({
  name: Schema.optional(Schema.String),
  archiveId: Schema.optional(Schema.String).pipe(Schema.fromKey("archive_id")),
  region: Schema.optional(SandboxRegion),
  driver: Schema.optional(SandboxDriver),
  image: Schema.optional(Schema.String),
  startCommand: Schema.optional(Schema.String).pipe(Schema.fromKey("start_command")),
  openPorts: Schema.optional(Schema.Array(Port)).pipe(Schema.fromKey("open_ports")),
  ttlSeconds: Schema.optional(NonNegativeInt).pipe(Schema.fromKey("ttl_seconds")),
  diskSizeGb: Schema.optional(Schema.Int.pipe(Schema.between(1, 250))).pipe(Schema.fromKey("disk_size_gb")),
  workingDirectory: Schema.optional(Schema.String).pipe(Schema.fromKey("working_directory")),
  envVars: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })).pipe(
    Schema.fromKey("env_vars")
  ),
  setupHooks: Schema.optional(Schema.Array(Schema.String)).pipe(Schema.fromKey("setup_hooks")),
  sizeClass: Schema.optional(SandboxSize).pipe(Schema.fromKey("size_class")),
  /** The one camelCase field of the create body. */
  daemonId: Schema.optional(Schema.String),
  /** heyod extension: the sandbox's initial network policy (Sprites `{rules}` shape). */
  networkPolicy: Schema.optional(NetworkPolicy).pipe(Schema.fromKey("network_policy"))
}) {}

/** `POST /sandbox-deploy` answer: 202 while provisioning. */
export class SandboxDeployResponse extends Schema.Class<SandboxDeployResponse>("SandboxDeployResponse")({
  id: SandboxId,
  status: Schema.optional(SandboxStatusTolerant)
}) {}

export class SandboxInfo extends Schema.Class<SandboxInfo>("SandboxInfo")({
  id: SandboxId,
  name: Schema.optionalWith(Schema.String, { default: () => "" }),
  status: SandboxStatusTolerant,
  image: Schema.optionalWith(Schema.String, { default: () => "" }),
  region: nullable(Schema.String, "region"),
  startCommand: nullable(Schema.String, "start_command"),
  workingDirectory: nullable(Schema.String, "working_directory"),
  sizeClass: nullable(Schema.String, "size_class"),
  diskSizeGb: nullable(Schema.Number, "disk_size_gb"),
  envVars: nullable(Schema.Record({ key: Schema.String, value: Schema.String }), "env_vars"),
  setupHooks: nullable(Schema.Array(Schema.String), "setup_hooks"),
  uptimeSecs: Schema.optionalWith(Schema.Number, { default: () => 0 }).pipe(Schema.fromKey("uptime_secs")),
  ttlSeconds: nullable(Schema.Number, "ttl_seconds"),
  isDeployed: Schema.optionalWith(Schema.Boolean, { default: () => false }).pipe(Schema.fromKey("is_deployed")),
  errorMessage: nullable(Schema.String, "error_message"),
  /** The one field every server must send (RFC 3339). */
  statusChangedAt: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("status_changed_at")),
  /** Servers may send `null`; it decodes to `[]`. */
  urls: Schema.optionalWith(Schema.Array(BoundUrl), { nullable: true, default: () => [] }),
  guestIp: nullable(Schema.String, "guest_ip"),
  metadata: nullable(Schema.Unknown, "metadata"),
  createdAt: nullable(Schema.String, "created_at"),
  cpus: nullable(Schema.Number, "cpus"),
  memory: nullable(Schema.Number, "memory"),
  backendType: nullable(Schema.String, "backend_type")
}) {
  get uptime(): Duration.Duration {
    return Duration.seconds(this.uptimeSecs)
  }
  /** `None`-like `null` when the sandbox has no time limit. */
  get ttl(): Duration.Duration | null {
    return this.ttlSeconds === null || this.ttlSeconds === 0 ? null : Duration.seconds(this.ttlSeconds)
  }
  /** The bound URL of `port`, if one is bound (the SDKs' `get_host`). */
  hostFor(port: number): string | null {
    return this.urls.find((u) => u.port === port)?.url ?? null
  }
}

/** `GET /deployed-sandboxes` answers a bare array. */
export const SandboxList = Schema.Array(SandboxInfo)

export class TtlBody extends Schema.Class<TtlBody>("TtlBody")({
  ttlSeconds: Schema.propertySignature(NonNegativeInt).pipe(Schema.fromKey("ttl_seconds"))
}) {}

/** `POST /sandbox/:id/stop` answer. */
export class StatusBody extends Schema.Class<StatusBody>("StatusBody")({
  status: Schema.String
}) {}
