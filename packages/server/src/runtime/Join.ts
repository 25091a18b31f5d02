/**
 * Command lines that run something inside a running sandbox.
 *
 * Host side: `sh` writes its own pid into every cgroup of the sandbox (nsenter does not move
 * processes between cgroups, and a process moved after it forked would leave its children
 * outside the limits), raises its OOM score (a host-wide OOM should take sandbox processes before
 * heyod; sandbox root cannot lower it back), then execs `nsenter` into all of the init's
 * namespaces, root and cwd. Sandbox side: `env -i -C <cwd>` builds the environment from scratch
 * and changes to the working directory (resolved inside the sandbox, never on the host: nsenter's
 * own `--wd=<dir>` would open it on the host), then execs the argv. A missing directory fails the
 * command with env's message on stderr and exit code 125; an unknown command gives 127.
 */
import * as Effect from "effect/Effect"
import type { Tools } from "./Prerequisites.js"
import { RuntimeError } from "./Runtime.js"

const joinScript = [
  "echo 500 > /proc/self/oom_score_adj 2>/dev/null",
  "while [ \"$1\" != -- ]; do",
  "  echo $$ > \"$1\" || { printf 'heyo: cannot join cgroup %s\\n' \"$1\" >&2; exit 125; }",
  "  shift",
  "done",
  "shift",
  "exec \"$@\""
].join("\n")

/** Runs `command` on the host after joining the sandbox's cgroups. */
export const inCgroups = (tools: Tools, cgroups: ReadonlyArray<string>, command: ReadonlyArray<string>) => ({
  file: tools.sh,
  args: ["-c", joinScript, "heyo-join", ...cgroups.map((dir) => `${dir}/cgroup.procs`), "--", ...command]
})

/** `nsenter` into every namespace of the init `pid`, its root and its working directory. */
export const nsenter = (tools: Tools, pid: number, inner: ReadonlyArray<string>) => [
  tools.nsenter,
  "-t",
  String(pid),
  "--all",
  "-r",
  "-w",
  "--",
  ...inner
]

export const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/** Names a process environment cannot carry: `env` would read `A=B=C` as `A` and `B=C`. */
const validName = (name: string) => name.length > 0 && !name.includes("=") && !name.includes("\0")

/**
 * The in-sandbox part: a clean environment (PATH, HOME, LANG, HOSTNAME, then the caller's), the
 * working directory, the argv.
 */
export const command = (
  spec: { readonly argv: ReadonlyArray<string>; readonly cwd: string; readonly env: Readonly<Record<string, string>> },
  hostname: string,
  sandboxId: string
): Effect.Effect<ReadonlyArray<string>, RuntimeError> => {
  const fail = (message: string) => Effect.fail(new RuntimeError({ operation: "exec", sandboxId, message }))
  if (spec.argv.length === 0) return fail("argv is empty")
  // env would take a leading `NAME=value` argument as one more variable, not as the command
  if (spec.argv[0]!.includes("=")) return fail(`command ${JSON.stringify(spec.argv[0])} contains '='`)
  if (spec.cwd === "") return fail("the working directory is empty")
  const env: Record<string, string> = {
    PATH: defaultPath,
    HOME: "/root",
    LANG: "C.UTF-8",
    HOSTNAME: hostname,
    ...spec.env
  }
  for (const [name, value] of Object.entries(env)) {
    if (!validName(name)) return fail(`invalid environment variable name ${JSON.stringify(name)}`)
    if (value.includes("\0")) return fail(`environment variable ${name} contains a NUL byte`)
  }
  for (const arg of [spec.cwd, ...spec.argv]) {
    if (arg.includes("\0")) return fail("arguments cannot contain NUL bytes")
  }
  return Effect.succeed([
    "/usr/bin/env",
    "-i",
    "-C",
    spec.cwd,
    "--",
    ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
    ...spec.argv
  ])
}
