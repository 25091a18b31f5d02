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
import { parseHosts } from "./network/Resolver.js"

const usage = `usage: heyod [options]
  --port <n>                  TCP port on 127.0.0.1 (default ${Heyod.defaults.port}; 0 = any free port)
  --data-dir <dir>            state directory (default ${Heyod.defaults.dataDir}/ under the current directory)
  --api-key <key>             require this bearer key (or set HEYO_API_KEY); unset = open on loopback
  --storage auto|btrfs|dir    sandbox storage (default auto: btrfs loop image when btrfs-progs exists)
  --ttl-sweep-interval <d>    how often expired TTLs are killed (default 5s)
  --exec-timeout <d>          longest POST /sandbox/:id/exec command (default 10m)
  --setup-hook-timeout <d>    longest setup hook (default 10m)
  --max-body-bytes <n>        largest JSON request body (default 1048576)
  --sql-statement-timeout <d> longest database exec batch or Hrana pipeline; the query is then stopped (default 10s)
  --hrana-idle-timeout <d>    idle libsql stream (baton) lifetime; its open transaction is rolled back (default 30s)
  --scrollback-bytes <n>      output each exec session or shell keeps for re-attaching (default 1048576)
  --exec-linger <d>           how long a non-TTY exec outlives its last client (default 10s)
  --shell-grace <d>           how long a disconnected shell waits for its client (default 60s)
  --session-retention <d>     how long an exited session stays listed and attachable (default 5m)
  --kill-grace <d>            SIGTERM to SIGKILL when heyod ends an abandoned session (default 5s)
  --egress-default allow|deny egress of new sandboxes created without a network policy (default allow)
  --egress-test-hosts <map>   TEST ONLY: name=ip,name=ip is the egress proxy's whole resolver (no DNS);
                              mapped addresses may be loopback/private, IP literals still may not
  --p2p loopback|production|off
                              P2P (iroh) tunnel endpoints: loopback (default) = no relay, no discovery,
                              bound to 127.0.0.1, reachable from this machine only; production = public
                              n0 relays and discovery, or only --iroh-relay-url; off = heyo+ws:// only
  --iroh-relay-url <url>      with --p2p production: this relay only (default: HEYO_IROH_RELAY_URL if set)
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
      "sql-statement-timeout": { type: "string" },
      "hrana-idle-timeout": { type: "string" },
      "scrollback-bytes": { type: "string" },
      "exec-linger": { type: "string" },
      "shell-grace": { type: "string" },
      "session-retention": { type: "string" },
      "kill-grace": { type: "string" },
      "egress-default": { type: "string" },
      "egress-test-hosts": { type: "string" },
      p2p: { type: "string" },
      "iroh-relay-url": { type: "string" },
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

function egressOptions(): Partial<Heyod.Options> {
  const egressDefault = flags["egress-default"] ?? Heyod.defaults.egressDefault
  if (egressDefault !== "allow" && egressDefault !== "deny") fail(`--egress-default: "${egressDefault}" is not allow or deny`)
  const hosts = flags["egress-test-hosts"] === undefined ? undefined : parseHosts(flags["egress-test-hosts"])
  if (typeof hosts === "string") fail(`--egress-test-hosts: ${hosts}`)
  return { egressDefault: egressDefault as "allow" | "deny", egressTestHosts: hosts as Record<string, string> | undefined }
}

function p2pOptions(): Partial<Heyod.Options> {
  const p2p = flags.p2p ?? Heyod.defaults.p2p
  if (p2p !== "loopback" && p2p !== "production" && p2p !== "off") fail(`--p2p: "${p2p}" is not loopback, production or off`)
  if (flags["iroh-relay-url"] !== undefined && p2p !== "production") fail(`--iroh-relay-url needs --p2p production, not ${p2p}`)
  // the daemon ticket would open heyod's whole API to anyone who obtains it
  if (p2p === "production" && (apiKey === undefined || apiKey === "")) fail("--p2p production needs an API key (--api-key or HEYO_API_KEY)")
  // the environment variable is the Heyo SDKs' own: it applies only where relays are used at all
  const relay = p2p === "production" ? flags["iroh-relay-url"] ?? process.env["HEYO_IROH_RELAY_URL"] : undefined
  const irohRelayUrl = relay === undefined || relay === "" ? undefined : relay
  if (irohRelayUrl !== undefined && !URL.canParse(irohRelayUrl)) fail(`--iroh-relay-url: "${irohRelayUrl}" is not a URL`)
  return { p2p: p2p as Heyod.Options["p2p"], irohRelayUrl }
}

const options: Partial<Heyod.Options> = {
  port: integer("--port", flags.port, Heyod.defaults.port, 0),
  dataDir: flags["data-dir"] ?? Heyod.defaults.dataDir,
  apiKey: apiKey === undefined || apiKey === "" ? undefined : Redacted.make(apiKey),
  storage: storage as Heyod.Options["storage"],
  ttlSweepInterval: duration("--ttl-sweep-interval", flags["ttl-sweep-interval"], Heyod.defaults.ttlSweepInterval),
  execTimeout: duration("--exec-timeout", flags["exec-timeout"], Heyod.defaults.execTimeout),
  setupHookTimeout: duration("--setup-hook-timeout", flags["setup-hook-timeout"], Heyod.defaults.setupHookTimeout),
  maxBodyBytes: integer("--max-body-bytes", flags["max-body-bytes"], Heyod.defaults.maxBodyBytes, 1),
  sqlStatementTimeout: duration("--sql-statement-timeout", flags["sql-statement-timeout"], Heyod.defaults.sqlStatementTimeout),
  hranaIdleTimeout: duration("--hrana-idle-timeout", flags["hrana-idle-timeout"], Heyod.defaults.hranaIdleTimeout),
  scrollbackBytes: integer("--scrollback-bytes", flags["scrollback-bytes"], Heyod.defaults.scrollbackBytes, 4096),
  execLinger: duration("--exec-linger", flags["exec-linger"], Heyod.defaults.execLinger),
  shellGrace: duration("--shell-grace", flags["shell-grace"], Heyod.defaults.shellGrace),
  sessionRetention: duration("--session-retention", flags["session-retention"], Heyod.defaults.sessionRetention),
  killGrace: duration("--kill-grace", flags["kill-grace"], Heyod.defaults.killGrace),
  ...egressOptions(),
  ...p2pOptions()
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
