/**
 * Resources of each size class. micro..large follow the Heyo cloud (reference/heyo-api.md §2.1);
 * the cloud does not document xlarge, so heyod continues the doubling: 8 vCPUs, 16 GiB.
 * The process limit is heyod's own choice (the cloud has none documented): enough for real work,
 * low enough that a fork bomb ends at the cgroup instead of the host.
 */
import type { HeyoEnums } from "@heyo-effect/protocol"
import type { ResourceLimits } from "../runtime/Runtime.js"

const GiB = 1024 * 1024 * 1024

export const sizeClasses: Readonly<Record<HeyoEnums.SandboxSize, ResourceLimits>> = {
  micro: { cpus: 0.25, memoryBytes: GiB / 2, pids: 256 },
  mini: { cpus: 0.5, memoryBytes: 1 * GiB, pids: 512 },
  small: { cpus: 1, memoryBytes: 2 * GiB, pids: 1024 },
  medium: { cpus: 2, memoryBytes: 4 * GiB, pids: 2048 },
  large: { cpus: 4, memoryBytes: 8 * GiB, pids: 4096 },
  xlarge: { cpus: 8, memoryBytes: 16 * GiB, pids: 8192 }
}

export const defaultSizeClass: HeyoEnums.SandboxSize = "small"
