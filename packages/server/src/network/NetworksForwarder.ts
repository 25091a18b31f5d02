/**
 * Starts service-forwarder.cjs in a member sandbox's network namespace and drives it: `apply`
 * sends the whole set of loopback addresses to listen on and waits for the forwarder to confirm.
 * Killing it, or heyod exiting (its stdin closes), ends it.
 */
import * as Effect from "effect/Effect"
import { fileURLToPath } from "node:url"
import { RuntimeError } from "../runtime/Runtime.js"
import { spawnInNetns } from "./NetnsNode.js"

const script = fileURLToPath(new URL("./service-forwarder.cjs", import.meta.url))

const timeoutMs = 10_000

export interface ServiceForwarder {
  readonly alive: () => boolean
  /** Listens on exactly these `address:port`s (failures are logged by the forwarder). */
  readonly apply: (listen: ReadonlyArray<string>) => Promise<void>
  readonly kill: () => Promise<void>
}

export const start = (spec: {
  readonly nsenter: string
  readonly netnsPath: string
  readonly relaySocket: string
  readonly sandboxId: string
  readonly log: (message: string) => void
}) =>
  Effect.async<ServiceForwarder, RuntimeError>((resume) => {
    const fail = (message: string) =>
      new RuntimeError({ operation: "network", sandboxId: spec.sandboxId, message: `service forwarder: ${message}` })
    const { alive, child, kill } = spawnInNetns(spec.nsenter, spec.netnsPath, script, [spec.relaySocket])
    let out = ""
    let settled = false
    let gen = 0
    const waiting = new Map<number, () => void>()
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d
      let end: number
      while ((end = out.indexOf("\n")) !== -1) {
        const line = out.slice(0, end)
        out = out.slice(end + 1)
        if (line === "ready") settle(Effect.succeed(forwarder))
        const applied = /^applied (\d+)$/.exec(line)
        if (applied !== null) {
          const done = waiting.get(Number(applied[1]))
          waiting.delete(Number(applied[1]))
          done?.()
        }
      }
    })
    child.stderr!.setEncoding("utf8").on("data", (d: string) => spec.log(`service forwarder ${spec.sandboxId}: ${d.trim()}`))
    child.once("exit", () => {
      for (const done of waiting.values()) done()
      waiting.clear()
    })
    const apply = (listen: ReadonlyArray<string>) =>
      new Promise<void>((resolve, reject) => {
        if (!alive()) return reject(new Error("the service forwarder is not running"))
        const id = ++gen
        const timer = setTimeout(() => {
          waiting.delete(id)
          reject(new Error(`the service forwarder did not apply its listeners within ${timeoutMs / 1000} s`))
        }, timeoutMs)
        waiting.set(id, () => {
          clearTimeout(timer)
          if (alive()) resolve()
          else reject(new Error("the service forwarder exited"))
        })
        child.stdin!.write(JSON.stringify({ gen: id, listen }) + "\n")
      })
    const forwarder: ServiceForwarder = { alive, apply, kill }
    const settle = (result: Effect.Effect<ServiceForwarder, RuntimeError>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resume(result)
    }
    child.once("error", (error) => settle(Effect.fail(fail(error.message))))
    child.once("exit", (code, signal) => settle(Effect.fail(fail(`exited (${signal ?? code}) before it was ready`))))
    const timer = setTimeout(() => {
      void kill()
      settle(Effect.fail(fail(`not ready within ${timeoutMs / 1000} s`)))
    }, timeoutMs)
    return Effect.promise(kill)
  })
