/**
 * One runtime per data dir at a time. Start-up cleanup kills and unmounts whatever this
 * instance's names cover; a second heyod on the same data dir would do that to the first one's
 * live sandboxes. The lock file names its owner by pid and process start time, so a lock left by
 * a crashed heyod (whose pid may have been reused since) is recognised as stale.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { RuntimeError } from "./Runtime.js"

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
const startTime = (pid: number | "self") => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]
  } catch {
    return undefined
  }
}

const owner = (file: string) => {
  try {
    const [pid, started] = fs.readFileSync(file, "utf8").trim().split(" ")
    const alive = pid !== undefined && started !== undefined && startTime(Number(pid)) === started
    return alive ? Number(pid) : undefined
  } catch {
    return undefined
  }
}

/** Holds `<dataDir>/runtime.lock` for the scope. */
export const acquire = (dataDir: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const file = path.join(dataDir, "runtime.lock")
        const content = `${process.pid} ${startTime("self")}\n`
        for (let attempt = 0;; attempt++) {
          try {
            fs.writeFileSync(file, content, { flag: "wx" })
            return file
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error
            const pid = owner(file)
            if (pid !== undefined) {
              throw new Error(
                `${dataDir} is in use by another runtime (pid ${pid}${pid === process.pid ? ", this process" : ""}); stop it or use another data dir`
              )
            }
            fs.rmSync(file, { force: true })
          }
        }
      },
      catch: (error) =>
        new RuntimeError({ operation: "lock data dir", message: error instanceof Error ? error.message : String(error) })
    }),
    (file) => Effect.sync(() => fs.rmSync(file, { force: true }))
  )
