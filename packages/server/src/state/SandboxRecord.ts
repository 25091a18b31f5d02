/** What heyod persists about a sandbox. Times are RFC 3339 strings or epoch milliseconds. */
import type { HeyoEnums } from "@heyo-effect/protocol"

export interface SandboxRecord {
  readonly id: string
  readonly name: string
  readonly status: HeyoEnums.SandboxStatus
  /** The image name the client asked for (e.g. `ubuntu:24.04`). */
  readonly image: string
  readonly region: string
  readonly sizeClass: HeyoEnums.SandboxSize
  readonly driver: string
  readonly startCommand: string | null
  readonly workingDirectory: string | null
  readonly envVars: Readonly<Record<string, string>> | null
  readonly setupHooks: ReadonlyArray<string> | null
  readonly openPorts: ReadonlyArray<number>
  readonly diskSizeGb: number | null
  readonly ttlSeconds: number | null
  /** Epoch ms at which the TTL expires; null for no limit. Counts from create or the last ttl call. */
  readonly ttlDeadline: number | null
  readonly errorMessage: string | null
  readonly statusChangedAt: string
  readonly createdAt: string
  /** Epoch ms of the last start, for `uptime_secs`; null while not running. */
  readonly startedAt: number | null
  /** The setup hooks ran successfully once; they never run again. */
  readonly hooksDone: boolean
  readonly metadata: unknown
}

export interface StatusChange {
  readonly status: string
  readonly at: string
  readonly message: string | null
}
