/**
 * Terminal processes: a command on a pseudo-terminal that belongs to the sandbox.
 *
 * heyod opens a host pty (node-pty) for the joined command line, and inside the sandbox
 * `script -qfec` opens a second one from the sandbox's own /dev/pts and runs the command as its
 * session leader. The command therefore has a real controlling terminal that exists in its own
 * mount namespace (`tty` prints /dev/pts/N there, job control and Ctrl-C work), and a resize of
 * the host pty reaches it because `script` forwards SIGWINCH.
 *
 * Output is read ahead into a bounded queue; past `highWater` bytes the pty is paused, so a
 * slow reader stalls the command instead of growing heyod's memory.
 */
import * as pty from "@lydell/node-pty"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import { hostEnv } from "./HostCommand.js"
import { killGroup } from "./Processes.js"
import { type Process, RuntimeError, type TerminalSize } from "./Runtime.js"

const highWater = 1024 * 1024
const lowWater = 256 * 1024

/** `script` runs its command through `$SHELL -c`: the argv is quoted for that shell. */
const shellQuote = (arg: string) => /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`

/** The argv that runs `argv` on the sandbox's own terminal (see the module comment). */
export const scriptArgv = (argv: ReadonlyArray<string>): ReadonlyArray<string> => [
  "/usr/bin/script",
  "-qfec",
  // `exec`: the shell script starts for it is replaced, so signals and the exit code are the command's
  `exec ${argv.map(shellQuote).join(" ")}`,
  "/dev/null"
]

/** `stat` fields after the command name: [state, ppid, pgrp, session, ...]. */
const statOf = (pid: string) => {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return text.slice(text.lastIndexOf(")") + 2).split(" ")
  } catch {
    return undefined
  }
}

/**
 * The processes of the session `script` started for the command: signals meant for "the
 * command" go there, not to heyod's side of the terminal.
 */
const commandSession = (ptyPid: number): ReadonlyArray<number> => {
  const procs = fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))
  const parents = new Map<string, string>()
  const sessions = new Map<string, string>()
  for (const pid of procs) {
    const stat = statOf(pid)
    if (stat === undefined) continue
    parents.set(pid, stat[1]!)
    sessions.set(pid, stat[3]!)
  }
  const descends = (pid: string) => {
    for (let p: string | undefined = pid, depth = 0; p !== undefined && depth < 64; p = parents.get(p), depth++) {
      if (p === String(ptyPid)) return true
    }
    return false
  }
  // The command's session leader is a descendant of the host pty's process with a session of its own.
  const leaders = procs.filter((pid) => sessions.get(pid) === pid && pid !== String(ptyPid) && descends(pid))
  return procs.filter((pid) => leaders.includes(sessions.get(pid)!)).map(Number)
}

/**
 * Spawns `file args` on a host pty of `size`. Closing the Scope SIGKILLs its process group
 * and waits (briefly) for the exit; the command's own session then gets SIGHUP from its
 * terminal, as on any hang-up.
 */
export const spawnPty = (
  file: string,
  args: ReadonlyArray<string>,
  size: TerminalSize,
  options: { readonly operation: string; readonly sandboxId: string }
) =>
  Effect.gen(function*() {
    const exitCode = yield* Deferred.make<number>()
    const queue = yield* Queue.unbounded<Uint8Array | null>()
    let queued = 0
    let paused = false
    let exited = false
    const term = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          pty.spawn(file, [...args], {
            name: "xterm-256color",
            cols: size.cols,
            rows: size.rows,
            cwd: "/",
            env: hostEnv as Record<string, string>,
            encoding: null
          }),
        catch: (error) =>
          new RuntimeError({
            operation: options.operation,
            sandboxId: options.sandboxId,
            message: `cannot open a terminal: ${error instanceof Error ? error.message : String(error)}`
          })
      }),
      (term) =>
        Effect.promise(() => {
          if (exited) return Promise.resolve()
          killGroup(term.pid)
          return Promise.race([
            Deferred.await(exitCode).pipe(Effect.asVoid, Effect.runPromise),
            new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())
          ])
        })
    )
    term.onData((data: string | Buffer) => {
      const bytes = typeof data === "string" ? Buffer.from(data) : data
      queued += bytes.byteLength
      Queue.unsafeOffer(queue, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      if (!paused && queued > highWater) {
        paused = true
        term.pause()
      }
    })
    term.onExit(({ exitCode: code, signal }) => {
      exited = true
      Queue.unsafeOffer(queue, null)
      Deferred.unsafeDone(exitCode, Effect.succeed(signal ? 128 + signal : code))
    })
    const take = Effect.flatMap(Queue.take(queue), (item) => {
      if (item === null) {
        Queue.unsafeOffer(queue, null)
        return Effect.fail(Option.none())
      }
      queued -= item.byteLength
      if (paused && queued < lowWater) {
        paused = false
        term.resume()
      }
      return Effect.succeed(item)
    })
    const process: Process = {
      pid: term.pid,
      stdout: Stream.repeatEffectOption(take),
      stderr: Stream.empty,
      write: (data) => Effect.sync(() => {
        if (!exited) term.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength) as unknown as string)
      }),
      // A terminal has no end of input but the EOF character, which the command reads as such.
      endStdin: Effect.sync(() => {
        if (!exited) term.write("\x04")
      }),
      signal: (signal) =>
        Effect.sync(() => {
          const targets = commandSession(term.pid)
          for (const pid of targets.length > 0 ? targets : [-term.pid]) {
            try {
              globalThis.process.kill(pid, signal)
            } catch {
              // gone already
            }
          }
        }),
      resize: (next) =>
        Effect.sync(() => {
          if (!exited) term.resize(next.cols, next.rows)
        }),
      exitCode: Deferred.await(exitCode)
    }
    return process
  })
