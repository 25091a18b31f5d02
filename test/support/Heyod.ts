/**
 * Starts a real heyod for end-to-end tests: a child process on a random port with its own temp
 * data dir, stopped with SIGTERM, and checked for leftovers (mounts, netns, cgroups, processes,
 * loop devices) afterwards.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const bin = path.join(repoRoot, "packages/server/src/bin.ts")

export interface HeyodOptions {
  /** Reuse a data dir (e.g. to restart a server on the same state). Default: a new temp dir. */
  readonly dataDir?: string
  readonly apiKey?: string
  /** Extra command-line flags, e.g. `["--ttl-sweep-interval", "100ms"]`. */
  readonly args?: ReadonlyArray<string>
}

export interface Heyod {
  readonly url: string
  readonly port: number
  readonly dataDir: string
  readonly apiKey: string | undefined
  readonly process: ChildProcess
  /** Everything heyod printed so far (stdout and stderr). */
  readonly logs: () => string
  /** SIGTERM, then waits for the exit; resolves with the exit code and how long it took. */
  readonly stop: () => Promise<{ readonly code: number | null; readonly millis: number }>
}

export const makeTempDir = (prefix = "heyod-test-"): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

export const start = (options: HeyodOptions = {}): Promise<Heyod> => {
  const dataDir = options.dataDir ?? makeTempDir()
  // As `pnpm heyod` runs it: a small young generation keeps heyod's memory flat while files stream.
  const args = ["--max-semi-space-size=4", "--import", "tsx", bin, "--port", "0", "--data-dir", dataDir, ...(options.args ?? [])]
  if (options.apiKey !== undefined) args.push("--api-key", options.apiKey)
  const env = { ...process.env }
  delete env.HEYO_API_KEY
  const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr.on("data", (d: Buffer) => (output += d.toString()))
  let exited: Promise<number | null> = new Promise((resolve) => child.once("exit", (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`heyod did not start within 60 s:\n${output}`))
    }, 60_000)
    const onData = () => {
      const match = /heyod listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(output)
      if (!match) return
      clearTimeout(timer)
      child.stdout.off("data", onData)
      resolve({
        url: match[1]!,
        port: Number(match[2]),
        dataDir,
        apiKey: options.apiKey,
        process: child,
        logs: () => output,
        stop: async () => {
          const started = Date.now()
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
          const code = await exited
          exited = Promise.resolve(code)
          return { code, millis: Date.now() - started }
        }
      })
    }
    child.stdout.on("data", onData)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`heyod exited with ${code} before listening:\n${output}`))
    })
  })
}

/** A heyod for the lifetime of a Scope. */
export const scoped = (options: HeyodOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (heyod) => Effect.promise(() => heyod.stop())
  )

const instanceIdOf = (dataDir: string): string | undefined => {
  try {
    return fs.readFileSync(path.join(dataDir, "instance-id"), "utf8").trim()
  } catch {
    return undefined
  }
}

const listCgroupDirs = (name: string): Array<string> => {
  const found: Array<string> = []
  const walk = (dir: string, depth: number) => {
    if (depth > 6) return
    let entries: Array<fs.Dirent>
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue
      const full = path.join(dir, entry.name)
      if (entry.name === name) found.push(full)
      else walk(full, depth + 1)
    }
  }
  walk("/sys/fs/cgroup", 0)
  return found
}

/** Host state a heyod with this data dir left behind; every list is empty when it cleaned up. */
export const leftovers = (dataDir: string) => {
  const instance = instanceIdOf(dataDir)
  // Mount points live under the data dir and under /run/heyo-<instance>.
  const mounts = fs
    .readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .filter((line) => line.includes(dataDir) || (instance !== undefined && line.includes(`/heyo-${instance}/`)))
  if (instance !== undefined && fs.existsSync(`/run/heyo-${instance}`)) mounts.push(`directory /run/heyo-${instance}`)
  const netns = instance === undefined
    ? []
    : (fs.existsSync("/run/netns") ? fs.readdirSync("/run/netns") : []).filter((n) => n.startsWith(`heyo-${instance}-`))
  const cgroups = instance === undefined ? [] : listCgroupDirs(`heyo-${instance}`)
  const processes: Array<string> = []
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")
      if (cmdline.includes(dataDir)) processes.push(`${pid}: ${cmdline}`)
    } catch {
      // the process exited while we looked
    }
  }
  let loops: Array<string> = []
  const image = path.join(dataDir, "state.img")
  if (fs.existsSync(image)) {
    loops = execFileSync("losetup", ["-j", image], { encoding: "utf8" }).split("\n").filter((l) => l.trim() !== "")
  }
  return { mounts, netns, cgroups, processes, loops }
}
