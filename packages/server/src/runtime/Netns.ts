/**
 * Per-sandbox network namespaces, created by heyod (owned by the host's user namespace) so the
 * sandbox's root has no CAP_NET_ADMIN over its own: it cannot add an interface, an address or a
 * route. Loopback only: no veth, no route, no NAT. Nothing in a sandbox reaches anything outside
 * its own 127.0.0.1; later features (egress proxy, port forwarding) come in through unix sockets.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as HostCommand from "./HostCommand.js"
import type { Tools } from "./Prerequisites.js"

const netnsDir = "/run/netns"

export const prefix = (instanceId: string) => `heyo-${instanceId}-`

export const name = (instanceId: string, sandboxId: string) => `${prefix(instanceId)}${sandboxId}`

export const pathOf = (netns: string) => path.join(netnsDir, netns)

export const exists = (netns: string) => fs.existsSync(pathOf(netns))

/** Names of this instance's namespaces (`heyo-<instance>-*`), exact prefix, nobody else's. */
export const list = (instanceId: string) =>
  Effect.sync(() => {
    try {
      return fs.readdirSync(netnsDir).filter((entry) => entry.startsWith(prefix(instanceId)))
    } catch {
      return []
    }
  })

export const remove = (tools: Tools, netns: string, sandboxId?: string) =>
  Effect.suspend(() =>
    exists(netns)
      ? HostCommand.run(tools.ip, ["netns", "delete", netns], { operation: "netns", sandboxId }).pipe(Effect.asVoid)
      : Effect.void
  )

const setup = (tools: Tools) =>
  `${tools.ip} link set lo up && echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start`

/**
 * A fresh namespace with `lo` up and every port bindable by the sandbox's (unprivileged on the
 * host) root, so a server can listen on :80 as in a VM. `unshare --net=<file>` creates, pins and
 * sets it up in one process; `ip netns add` is the fallback where that bind is refused.
 */
export const create = (tools: Tools, netns: string, sandboxId: string) =>
  Effect.gen(function*() {
    yield* remove(tools, netns, sandboxId)
    const file = pathOf(netns)
    const pinned = yield* Effect.try(() => {
      fs.mkdirSync(netnsDir, { recursive: true })
      fs.closeSync(fs.openSync(file, "w", 0o444))
    }).pipe(
      Effect.zipRight(HostCommand.run(tools.unshare, [`--net=${file}`, "--", tools.sh, "-c", setup(tools)], {
        operation: "netns",
        sandboxId
      })),
      Effect.isSuccess
    )
    if (pinned) return
    yield* remove(tools, netns, sandboxId)
    yield* Effect.sync(() => fs.rmSync(file, { force: true }))
    yield* HostCommand.run(tools.ip, ["netns", "add", netns], { operation: "netns", sandboxId })
    // /proc/sys/net is per namespace, so the write lands in the new one
    yield* HostCommand.run(tools.nsenter, [`--net=${file}`, "--", tools.sh, "-c", setup(tools)], {
      operation: "netns",
      sandboxId
    })
  })
