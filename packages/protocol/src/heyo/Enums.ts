/**
 * Heyo-dialect enums with their exact wire strings (reference/heyo-api.md §3).
 *
 * Each enum has a strict schema (what a server accepts in a request) and a tolerant one (what a
 * client accepts in a response: newer servers add values, and an SDK must not break on them).
 */
import * as Schema from "effect/Schema"

export const SandboxStatus = Schema.Literal(
  "provisioning",
  "running",
  "stopped",
  "paused",
  "failed",
  "cold-stored"
)
export type SandboxStatus = typeof SandboxStatus.Type

/** A status as a client decodes it: a known value, or any other string a newer server sends. */
export const SandboxStatusTolerant = Schema.Union(SandboxStatus, Schema.String)
export type SandboxStatusTolerant = SandboxStatus | (string & {})

export const SandboxSize = Schema.Literal("micro", "mini", "small", "medium", "large", "xlarge")
export type SandboxSize = typeof SandboxSize.Type

export const SandboxRegion = Schema.Literal("US", "EU")
export type SandboxRegion = typeof SandboxRegion.Type

/**
 * Drivers of the Heyo cloud, plus `bubblewrap`, the one heyod runs every sandbox with.
 */
export const SandboxDriver = Schema.Literal(
  "libvirt",
  "firecracker",
  "kvm",
  "firecracker_containerd",
  "bubblewrap"
)
export type SandboxDriver = typeof SandboxDriver.Type
