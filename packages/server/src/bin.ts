#!/usr/bin/env node
/**
 * `heyod`: the local sandbox server. `pnpm heyod --port <p> --data-dir <dir> [--api-key <k>]`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { parseArgs } from "node:util"
import * as Heyod from "./Heyod.js"

const usage = `usage: heyod [options]
  --port <n>                  TCP port on 127.0.0.1 (default ${Heyod.defaults.port}; 0 = any free port)
  --data-dir <dir>            state directory (default ${Heyod.defaults.dataDir}/ under the current directory)
  --api-key <key>             require this bearer key (or set HEYO_API_KEY); unset = open on loopback
  --storage auto|btrfs|dir    sandbox storage (default auto: btrfs loop image when btrfs-progs exists)
  --ttl-sweep-interval <d>    how often expired TTLs are killed (default 5s)
  --exec-timeout <d>          longest POST /sandbox/:id/exec command (default 10m)
  --setup-hook-timeout <d>    longest setup hook (default 10m)
  --max-body-bytes <n>        largest JSON request body (default 1048576)
durations: 250ms, 5s, 2m, 1h (a bare number is milliseconds)`

const fail = (message: string): never => {
  console.error(`heyod: ${message}\n${usage}`)
  process.exit(2)
}

const duration = (flag: string, value: string | undefined, fallback: Duration.Duration) => {
  if (value === undefined) return fallback
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim())
  if (match === null) return fail(`${flag}: "${value}" is not a duration`)
  const n = Number(match[1])
  const unit = match[2] ?? "ms"
  return Duration.millis(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as "ms" | "s" | "m" | "h"])
}

const integer = (flag: string, value: string | undefined, fallback: number, min: number) => {
  if (value === undefined) return fallback
  const n = Number(value)
  return Number.isInteger(n) && n >= min ? n : fail(`${flag}: "${value}" is not an integer >= ${min}`)
}

let parsed: ReturnType<typeof parse>
const parse = () =>
  parseArgs({
    options: {
      port: { type: "string" },
      "data-dir": { type: "string" },
      "api-key": { type: "string" },
      storage: { type: "string" },
      "ttl-sweep-interval": { type: "string" },
      "exec-timeout": { type: "string" },
      "setup-hook-timeout": { type: "string" },
      "max-body-bytes": { type: "string" },
      help: { type: "boolean", short: "h" }
    },
    strict: true
  })
try {
  parsed = parse()
} catch (e) {
  fail((e as Error).message)
}
const flags = parsed!.values
if (flags.help) {
  console.log(usage)
  process.exit(0)
}
const storage = flags.storage ?? "auto"
if (storage !== "auto" && storage !== "btrfs" && storage !== "dir") fail(`--storage: "${storage}" is not auto, btrfs or dir`)
const apiKey = flags["api-key"] ?? process.env["HEYO_API_KEY"]

const options: Partial<Heyod.Options> = {
  port: integer("--port", flags.port, Heyod.defaults.port, 0),
  dataDir: flags["data-dir"] ?? Heyod.defaults.dataDir,
  apiKey: apiKey === undefined || apiKey === "" ? undefined : Redacted.make(apiKey),
  storage: storage as Heyod.Options["storage"],
  ttlSweepInterval: duration("--ttl-sweep-interval", flags["ttl-sweep-interval"], Heyod.defaults.ttlSweepInterval),
  execTimeout: duration("--exec-timeout", flags["exec-timeout"], Heyod.defaults.execTimeout),
  setupHookTimeout: duration("--setup-hook-timeout", flags["setup-hook-timeout"], Heyod.defaults.setupHookTimeout),
  maxBodyBytes: integer("--max-body-bytes", flags["max-body-bytes"], Heyod.defaults.maxBodyBytes, 1)
}

const main = Heyod.url.pipe(
  Effect.flatMap((url) => Console.log(`heyod listening on ${url}`)),
  Effect.zipRight(Effect.never),
  Effect.provide(Heyod.layer(options)),
  // Start-up refusals (not root, a missing package, a busy port) are one clear line, not a trace.
  Effect.catchAll((error) =>
    Console.error(`heyod: ${error.message}`).pipe(Effect.zipRight(Effect.sync(() => process.exit(1))))
  )
)

// `pnpm heyod` does not forward SIGTERM to the script it runs: a stopped pnpm would leave heyod
// orphaned with its sandboxes. Losing the launcher is treated as a stop request.
const launcher = process.ppid
const watchLauncher = setInterval(() => {
  if (process.ppid === launcher) return
  clearInterval(watchLauncher)
  process.kill(process.pid, "SIGTERM")
}, 1000)
watchLauncher.unref()

NodeRuntime.runMain(main)
