/**
 * Host-side process plumbing for commands run in sandboxes: spawning in their own process group,
 * collecting output as bytes, and killing the whole group.
 *
 * util-linux nsenter does not forward signals to the command it forks, so killing the process
 * heyod spawned would leave the command running; every such process is therefore spawned
 * `detached` (its own process group) and killed through the group.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import type * as net from "node:net"
import * as os from "node:os"
import type { Readable } from "node:stream"
import { hostEnv } from "./HostCommand.js"
import { type Process, RuntimeError } from "./Runtime.js"

/** SIGKILL to a whole process group; a group that is gone already is fine. */
export const killGroup = (pgid: number | undefined) => {
  if (pgid === undefined) return
  try {
    process.kill(-pgid, "SIGKILL")
  } catch {
    // no such group
  }
}

export const killPid = (pid: number | undefined, signal: NodeJS.Signals = "SIGKILL") => {
  if (pid === undefined) return
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

/** The members of process group `pgid`, from /proc (host pids). */
const groupMembers = (pgid: number): ReadonlyArray<number> => {
  const members: Array<number> = []
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8")
      // fields after the command name: state, ppid, pgrp, ...
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pgid) members.push(Number(name))
    } catch {
      // exited while we looked
    }
  }
  return members
}

/**
 * Signals a joined command's process group, except its leader: that is nsenter, which does not
 * forward signals and would die of most of them, reporting its own death as the command's exit
 * (a command that traps TERM would then run on, unseen). nsenter exits with its child's status,
 * so the command's own handling decides the exit code. SIGKILL takes the whole group.
 */
export const signalCommand = (leader: number, signal: NodeJS.Signals, retries = 40) => {
  const targets = signal === "SIGKILL" ? [-leader] : groupMembers(leader).filter((pid) => pid !== leader)
  if (targets.length === 0 && signal !== "SIGKILL") {
    // Just spawned: nsenter has not forked the command yet. Wait for it (briefly), or failing
    // that, end nsenter before it runs anything.
    const alive = groupMembers(leader).includes(leader)
    if (alive && retries > 0) setTimeout(() => signalCommand(leader, signal, retries - 1), 5).unref()
    else if (alive) targets.push(leader)
  }
  for (const target of targets) {
    try {
      process.kill(target, signal)
    } catch {
      // gone already
    }
  }
}

/** The shell convention: the exit code, or 128+N after signal N. */
export const exitCodeOf = (code: number | null, signal: NodeJS.Signals | null) =>
  code ?? (signal !== null ? 128 + (os.constants.signals[signal] ?? 0) : 1)

export interface CollectOptions {
  readonly stdin?: Uint8Array | undefined
  /** Also build the interleaved `output` (off for file reads, which only want stdout). */
  readonly interleaved: boolean
  /** Bytes kept across stdout and stderr; beyond it output is dropped and `overflowed` set. */
  readonly maxBytes: number
  /** Kill the command as soon as it overflows (file reads), rather than let it finish. */
  readonly killOnOverflow: boolean
  readonly operation: string
  readonly sandboxId: string
}

export interface Collected {
  readonly stdout: Uint8Array
  readonly stderr: Uint8Array
  readonly output: Uint8Array
  readonly exitCode: number
  readonly overflowed: boolean
}

/**
 * After the command exits, pipes are read until they close or go quiet: a background child
 * (`sleep 100 &`) that inherited them keeps them open, and must neither hang the call nor lose
 * the bytes the command wrote before exiting.
 */
const quietMs = 10
const maxDrainMs = 250

const concat = (chunks: ReadonlyArray<Buffer>) => new Uint8Array(Buffer.concat(chunks))

/**
 * Spawns `file args` in its own process group and collects its output once it exits.
 * Interrupting the effect kills the process group and waits (briefly) for the exit.
 */
export const collect = (file: string, args: ReadonlyArray<string>, options: CollectOptions) =>
  Effect.async<Collected, RuntimeError>((resume) => {
    const fail = (message: string) =>
      resume(Effect.fail(new RuntimeError({ operation: options.operation, sandboxId: options.sandboxId, message })))
    let child: ChildProcess
    try {
      child = spawn(file, args, {
        detached: true,
        cwd: "/",
        env: hostEnv,
        stdio: [options.stdin !== undefined ? "pipe" : "ignore", "pipe", "pipe"]
      })
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error))
      return
    }
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    const output: Array<Buffer> = []
    let kept = 0
    let overflowed = false
    let collecting = true
    let lastData = Date.now()
    let open = 2
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined
    let exitedAt = 0
    let timer: NodeJS.Timeout | undefined
    let done = false
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))

    const onData = (into: Array<Buffer>) => (chunk: Buffer) => {
      lastData = Date.now()
      if (!collecting) return
      if (kept + chunk.length > options.maxBytes) {
        overflowed = true
        collecting = false
        if (options.killOnOverflow) killGroup(child.pid)
        return
      }
      kept += chunk.length
      into.push(chunk)
      if (options.interleaved) output.push(chunk)
    }
    const finish = () => {
      if (done || exit === undefined) return
      done = true
      collecting = false
      if (timer !== undefined) clearInterval(timer)
      // Pipes still held by background children stay open and keep being read (and dropped) so
      // those children never die of SIGPIPE; they close when the children exit or the sandbox stops.
      for (const stream of [child.stdout, child.stderr]) (stream as net.Socket | null)?.unref?.()
      resume(Effect.succeed({
        stdout: concat(stdout),
        stderr: concat(stderr),
        output: concat(output),
        exitCode: exitCodeOf(exit.code, exit.signal),
        overflowed
      }))
    }
    const onClose = () => {
      open--
      if (open === 0) finish()
    }
    child.stdout!.on("data", onData(stdout)).once("close", onClose)
    child.stderr!.on("data", onData(stderr)).once("close", onClose)
    if (options.stdin !== undefined) {
      // A command that exits without reading its stdin makes the write fail with EPIPE: harmless.
      child.stdin!.on("error", () => {})
      child.stdin!.end(Buffer.from(options.stdin.buffer, options.stdin.byteOffset, options.stdin.byteLength))
    }
    child.once("error", (error) => {
      if (done) return
      done = true
      if (timer !== undefined) clearInterval(timer)
      fail(error.message)
    })
    child.once("exit", (code, signal) => {
      exit = { code, signal }
      exitedAt = Date.now()
      if (open === 0) return finish()
      timer = setInterval(() => {
        const now = Date.now()
        if (now - Math.max(lastData, exitedAt) >= quietMs || now - exitedAt >= maxDrainMs) finish()
      }, 2)
    })
    return Effect.promise(() => {
      if (timer !== undefined) clearInterval(timer)
      done = true
      killGroup(child.pid)
      return Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())])
    })
  })

/**
 * Spawns `file args` in its own process group with stdout and stderr appended to an open file
 * descriptor, and returns once it runs; nobody waits for it.
 */
export const spawnDetached = (
  file: string,
  args: ReadonlyArray<string>,
  outputFd: number,
  options: { readonly operation: string; readonly sandboxId: string }
) =>
  Effect.async<number, RuntimeError>((resume) => {
    const fail = (message: string) =>
      resume(Effect.fail(new RuntimeError({ operation: options.operation, sandboxId: options.sandboxId, message })))
    let child: ChildProcess
    try {
      child = spawn(file, args, { detached: true, cwd: "/", env: hostEnv, stdio: ["ignore", outputFd, outputFd] })
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error))
      return
    }
    child.once("error", (error) => fail(error.message))
    child.once("spawn", () => {
      child.unref()
      resume(Effect.succeed(child.pid!))
    })
  })

/** After the command exits, a pipe that stays empty this long is held only by background children. */
const quietAfterExitMs = 25
/** ... and this many event-loop turns, each with an I/O poll, found it empty. */
const quietTurns = 3

/** Whether the command exited, and who waits to hear it; plain callbacks, read from Node events. */
interface ExitWatch {
  exited: boolean
  readonly listeners: Set<() => void>
}

/** Read ahead per pipe: enough to keep a fast command busy while a frame is sent, bounded. */
const pipeHighWater = 1024 * 1024
const pipeLowWater = 256 * 1024

/**
 * A Stream over a command's pipe, read ahead into a bounded queue: past `pipeHighWater` unread
 * bytes the pipe is paused, so a slow reader stalls the command instead of growing heyod.
 *
 * Every byte goes through our own 'data' listener: when a child exits, Node resumes its stdio
 * streams to reach EOF (child_process flushStdio), and a paused stream without one would drop
 * what the pipe still held.
 *
 * Once the command has exited, a pull that finds the pipe empty for `quietAfterExitMs` and
 * `quietTurns` event-loop turns ends the stream (background children may hold the pipe open);
 * the pipe is then drained and discarded so those children never die of SIGPIPE.
 */
const pipeStream = (readable: Readable, exit: ExitWatch): Stream.Stream<Uint8Array> => {
  const queue: Array<Buffer> = []
  let queued = 0
  let ended = false
  let abandoned = false
  let wake: (() => void) | undefined
  readable.on("data", (chunk: Buffer) => {
    if (abandoned) return
    queue.push(chunk)
    queued += chunk.length
    if (queued > pipeHighWater) readable.pause()
    wake?.()
  })
  const onEnd = () => {
    ended = true
    wake?.()
  }
  readable.once("end", onEnd)
  readable.once("close", onEnd)
  readable.on("error", onEnd)
  const abandon = () => {
    abandoned = true
    ended = true
    queue.length = 0
    readable.resume()
    ;(readable as net.Socket).unref?.()
  }
  const pull = Effect.async<Uint8Array, Option.Option<never>>((resume) => {
    let timer: NodeJS.Immediate | undefined
    const cleanup = () => {
      wake = undefined
      exit.listeners.delete(quiet)
      if (timer !== undefined) clearImmediate(timer)
    }
    // Quiet is counted in event-loop turns as well as time: a busy loop may run its timers long
    // after the pipe's data arrived but before it polled for it, and that must not read as silence.
    function quiet() {
      if (timer !== undefined) return
      const since = Date.now()
      let turns = 0
      const tick = () => {
        if (++turns >= quietTurns && Date.now() - since >= quietAfterExitMs) {
          timer = undefined
          cleanup()
          abandon()
          resume(Effect.fail(Option.none()))
        } else {
          timer = setImmediate(tick)
        }
      }
      timer = setImmediate(tick)
    }
    function attempt(): boolean {
      const chunk = queue.shift()
      if (chunk !== undefined) {
        queued -= chunk.length
        if (queued < pipeLowWater && readable.isPaused() && !ended) readable.resume()
        cleanup()
        resume(Effect.succeed(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)))
        return true
      }
      if (ended) {
        cleanup()
        resume(Effect.fail(Option.none()))
        return true
      }
      if (readable.isPaused()) readable.resume()
      return false
    }
    if (attempt()) return
    wake = attempt
    if (exit.exited) quiet()
    else exit.listeners.add(quiet)
    return Effect.sync(cleanup)
  })
  return Stream.repeatEffectOption(pull)
}

/**
 * Spawns `file args` in its own process group with piped output, for streaming. Closing the
 * Scope SIGKILLs the group and waits (briefly) for the exit.
 */
export const spawnStreaming = (
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly stdin: boolean; readonly operation: string; readonly sandboxId: string }
) =>
  Effect.gen(function*() {
    const exitCode = yield* Deferred.make<number>()
    const exit: ExitWatch = { exited: false, listeners: new Set() }
    const child = yield* Effect.acquireRelease(
      Effect.async<ChildProcess, RuntimeError>((resume) => {
        const fail = (message: string) =>
          resume(Effect.fail(new RuntimeError({ operation: options.operation, sandboxId: options.sandboxId, message })))
        let child: ChildProcess
        try {
          child = spawn(file, args, {
            detached: true,
            cwd: "/",
            env: hostEnv,
            stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"]
          })
        } catch (error) {
          fail(error instanceof Error ? error.message : String(error))
          return
        }
        child.once("exit", (code, signal) => {
          exit.exited = true
          Deferred.unsafeDone(exitCode, Effect.succeed(exitCodeOf(code, signal)))
          for (const listener of exit.listeners) listener()
          exit.listeners.clear()
        })
        child.once("error", (error) => fail(error.message))
        child.once("spawn", () => resume(Effect.succeed(child)))
        // A command that exits without reading its stdin makes writes fail with EPIPE: harmless.
        child.stdin?.on("error", () => {})
      }),
      (child) =>
        Effect.promise(() => {
          if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
          killGroup(child.pid)
          return Promise.race([
            new Promise<void>((resolve) => child.once("exit", () => resolve())),
            new Promise<void>((resolve) => setTimeout(resolve, 1000).unref())
          ])
        })
    )
    const stdin = child.stdin
    const write = (data: Uint8Array) =>
      Effect.async<void>((resume) => {
        if (stdin === null || stdin.destroyed || stdin.writableEnded) return resume(Effect.void)
        if (stdin.write(data)) return resume(Effect.void)
        const done = () => {
          stdin.off("drain", done)
          stdin.off("close", done)
          resume(Effect.void)
        }
        stdin.on("drain", done)
        stdin.on("close", done)
        return Effect.sync(() => {
          stdin.off("drain", done)
          stdin.off("close", done)
        })
      })
    const process: Process = {
      pid: child.pid!,
      stdout: pipeStream(child.stdout!, exit),
      stderr: pipeStream(child.stderr!, exit),
      write,
      endStdin: Effect.sync(() => {
        if (stdin !== null && !stdin.writableEnded) stdin.end()
      }),
      signal: (signal) => Effect.sync(() => signalCommand(child.pid!, signal)),
      resize: () => Effect.void,
      exitCode: Deferred.await(exitCode)
    }
    return process
  })
