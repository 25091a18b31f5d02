/**
 * Starts forwarder.cjs in a sandbox's network namespace (`nsenter --net`, heyod's mount
 * namespace) and waits until it listens. Killing it, or heyod exiting (its stdin closes), ends it.
 */
import * as Effect from "effect/Effect"
import type { ChildProcess } from "node:child_process"
import { fileURLToPath } from "node:url"
import { RuntimeError } from "../runtime/Runtime.js"
import { spawnInNetns } from "./NetnsNode.js"

const script = fileURLToPath(new URL("./forwarder.cjs", import.meta.url))

const readyTimeoutMs = 10_000

export interface Forwarder {
  readonly process: ChildProcess
  readonly kill: () => Promise<void>
}

export const start = (spec: {
  readonly nsenter: string
  readonly netnsPath: string
  readonly egressSocket: string
  readonly ingressSocket: string
  readonly sandboxId: string
}) =>
  Effect.async<Forwarder, RuntimeError>((resume) => {
    const fail = (message: string) =>
      new RuntimeError({ operation: "network", sandboxId: spec.sandboxId, message: `egress forwarder: ${message}` })
    const { child, kill } = spawnInNetns(spec.nsenter, spec.netnsPath, script, [spec.egressSocket, spec.ingressSocket])
    let out = ""
    let err = ""
    let settled = false
    const settle = (result: Effect.Effect<Forwarder, RuntimeError>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resume(result)
    }
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d
      if (out.includes("ready\n")) settle(Effect.succeed({ process: child, kill }))
    })
    child.stderr!.setEncoding("utf8").on("data", (d: string) => {
      err = (err + d).slice(-2000)
    })
    child.once("error", (error) => settle(Effect.fail(fail(error.message))))
    child.once("exit", (code, signal) => settle(Effect.fail(fail(`exited (${signal ?? code}) before it was ready: ${err.trim()}`))))
    const timer = setTimeout(() => {
      void kill()
      settle(Effect.fail(fail(`not ready within ${readyTimeoutMs / 1000} s: ${err.trim()}`)))
    }, readyTimeoutMs)
    return Effect.promise(kill)
  })
