/**
 * The sandbox's user namespace: uid and gid 0-65535 inside are 100000-165535 on the host, so the
 * sandbox's root is never the host's (a host sysctl write, a host file owned by root: denied).
 *
 * "Holder" variant: a placeholder process makes the namespace, heyod writes its maps as root
 * (no /etc/subuid entries, no newuidmap), the init joins it, then the holder goes. setgroups is
 * left allowed so nsenter can drop supplementary groups when it joins.
 */
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { hostEnv } from "./HostCommand.js"
import type { Tools } from "./Prerequisites.js"
import { RuntimeError } from "./Runtime.js"
import { shiftBase, shiftSize } from "./Storage.js"

export interface UserNamespace {
  /** `/proc/<holder>/ns/user`, valid while the scope is open. */
  readonly path: string
}

const map = `0 ${shiftBase} ${shiftSize}\n`

const nsOf = (pid: number | "self") => {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/user`)
  } catch {
    return undefined
  }
}

/**
 * A shifted user namespace for the lifetime of the scope. The holder is `cat` on a pipe from
 * heyod: if heyod dies, the pipe closes and the holder exits with it.
 */
export const shifted = (tools: Tools, sandboxId: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const fail = (message: string) => new RuntimeError({ operation: "user namespace", sandboxId, message })
      const holder = yield* Effect.try({
        try: () =>
          spawn(tools.unshare, ["--user", "--", "cat"], {
            detached: true,
            cwd: "/",
            env: hostEnv,
            stdio: ["pipe", "ignore", "pipe"]
          }),
        catch: (error) => fail(String(error))
      })
      const release = () => stop(holder)
      let stderr = ""
      holder.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
      holder.stdin!.on("error", () => {})
      const own = nsOf("self")
      // unshare(2) happens just after exec: wait until the holder's namespace is its own.
      for (let i = 0;; i++) {
        const pid = holder.pid
        if (pid === undefined || holder.exitCode !== null || holder.signalCode !== null) {
          release()
          return yield* Effect.fail(fail(`unshare --user failed: ${stderr.trim() || "exited"}`))
        }
        const ns = nsOf(pid)
        if (ns !== undefined && ns !== own) break
        if (i > 2000) {
          release()
          return yield* Effect.fail(fail("unshare --user did not create a namespace within 2 s"))
        }
        yield* Effect.sleep(i < 50 ? "0 millis" : "1 millis")
      }
      const pid = holder.pid!
      yield* Effect.try({
        try: () => {
          fs.writeFileSync(`/proc/${pid}/uid_map`, map)
          fs.writeFileSync(`/proc/${pid}/gid_map`, map)
        },
        catch: (error) => {
          release()
          return fail(`writing the uid/gid map: ${String(error)}`)
        }
      })
      return { holder, namespace: { path: `/proc/${pid}/ns/user` } satisfies UserNamespace }
    }),
    ({ holder }) => Effect.sync(() => stop(holder))
  ).pipe(Effect.map(({ namespace }) => namespace))

const stop = (holder: ChildProcess) => {
  holder.stdin?.destroy()
  holder.stderr?.destroy()
  if (holder.exitCode === null && holder.signalCode === null) holder.kill("SIGKILL")
}
