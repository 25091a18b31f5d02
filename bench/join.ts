/**
 * The raw baseline's way into a running sandbox: find its cgroups and init the way an operator
 * would, then spawn a child that joins them (cgroups, then nsenter into every namespace) and runs
 * a command there, with nothing of heyod or the SDK in between.
 */
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

export interface JoinTarget {
  readonly cgroups: ReadonlyArray<string>
  readonly pid: number
}

/** A sandbox's cgroup directories and its init's host pid. */
export const joinTargetOf = (instanceId: string, sandboxId: string): JoinTarget => {
  const dirs: Array<string> = []
  const walk = (dir: string, depth: number) => {
    if (depth > 8) return
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const full = path.join(dir, entry.name)
      if (full.endsWith(`/heyo-${instanceId}/${sandboxId}`)) dirs.push(full)
      else walk(full, depth + 1)
    }
  }
  walk("/sys/fs/cgroup", 0)
  const pids = dirs.flatMap((dir) => fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean))
  const init = pids.find((pid) => /^NSpid:\s+\d+\s+1$/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8")))
  if (init === undefined) throw new Error(`no init found for ${sandboxId}`)
  return { cgroups: dirs, pid: Number(init) }
}

/** Spawns `argv` inside the sandbox; its stdout goes to `onStdout`. Resolves with the exit code. */
const joined = (target: JoinTarget, argv: ReadonlyArray<string>, onStdout: (chunk: Buffer) => void) =>
  Effect.async<number>((resume) => {
    const child = spawn("sh", [
      "-c",
      `for c in ${target.cgroups.map((d) => `${d}/cgroup.procs`).join(" ")}; do echo $$ > $c; done; ` +
      `exec nsenter -t ${target.pid} --all -r -w -- /usr/bin/env -i PATH=/usr/bin:/bin "$@"`,
      "sh",
      ...argv
    ], { stdio: ["ignore", "pipe", "pipe"], detached: true })
    child.stdout.on("data", onStdout)
    child.stderr.resume()
    child.once("close", (code) => resume(Effect.succeed(code ?? -1)))
  })

/** `/bin/true` in the sandbox: the raw exec round trip. */
export const rawExec = (target: JoinTarget) => joined(target, ["/bin/true"], () => {})

/** `sh -c script` in the sandbox, its stdout read through a Node child-process pipe and counted. */
export const rawPipeBytes = (target: JoinTarget, script: string) =>
  Effect.gen(function*() {
    let bytes = 0
    const exitCode = yield* joined(target, ["/bin/sh", "-c", script], (chunk) => (bytes += chunk.length))
    return { exitCode, bytes }
  })
