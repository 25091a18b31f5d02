/** A stored sandbox as the Heyo dialect shows it (reference/heyo-api.md §2.1 SandboxInfo). */
import { HeyoSandbox } from "@heyo-effect/protocol"
import { sizeClasses } from "../../engine/SizeClass.js"
import type { SandboxRecord } from "../../state/SandboxRecord.js"

/** `urls`: the bound ports (ProxyEndpointRoutes.urlsOf); none when not given. */
export const sandboxInfo = (record: SandboxRecord, urls: ReadonlyArray<HeyoSandbox.BoundUrl> = []): HeyoSandbox.SandboxInfo => {
  const limits = sizeClasses[record.sizeClass]
  return new HeyoSandbox.SandboxInfo({
    id: HeyoSandbox.SandboxId.make(record.id),
    name: record.name,
    status: record.status,
    image: record.image,
    region: record.region,
    startCommand: record.startCommand,
    workingDirectory: record.workingDirectory,
    sizeClass: record.sizeClass,
    diskSizeGb: record.diskSizeGb,
    envVars: record.envVars,
    setupHooks: record.setupHooks,
    uptimeSecs: record.status === "running" && record.startedAt !== null
      ? Math.max(0, Math.floor((Date.now() - record.startedAt) / 1000))
      : 0,
    ttlSeconds: record.ttlSeconds,
    isDeployed: true,
    errorMessage: record.errorMessage,
    statusChangedAt: record.statusChangedAt,
    urls,
    guestIp: null,
    metadata: record.metadata ?? null,
    createdAt: record.createdAt,
    // The wire's cpus is a whole number of vCPUs; micro and mini get a fractional CPU quota.
    cpus: Math.ceil(limits.cpus),
    memory: limits.memoryBytes,
    backendType: "bubblewrap"
  })
}
