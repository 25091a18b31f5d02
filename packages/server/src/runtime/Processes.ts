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

/** Whether the command exited, and who waits to hear it; plain callbacks, read from Node events. */
interface ExitWatch {
  exited: boolean
  readonly listeners: Set<() => void>
}

/**
 * A pull-based Stream over a paused Readable: each pull takes what is buffered or waits for more,
 * so nothing is read ahead of the consumer. Once the command has exited, a pull that finds the
 * pipe empty for `quietAfterExitMs` ends the stream; the pipe is then drained and discarded so
 * background children holding it never die of SIGPIPE.
 */
const pipeStream = (readable: Readable, exit: ExitWatch): Stream.Stream<Uint8Array> => {
  let ended = false
  readable.once("end", () => (ended = true))
  readable.once("close", () => (ended = true))
  readable.on("error", () => (ended = true))
  const abandon = () => {
    ended = true
    readable.on("data", () => {})
    ;(readable as net.Socket).unref?.()
  }
  const pull = Effect.async<Uint8Array, Option.Option<never>>((resume) => {
    let timer: NodeJS.Timeout | undefined
    const quiet = () => {
      if (timer === undefined) {
        timer = setTimeout(() => {
          cleanup()
          abandon()
          resume(Effect.fail(Option.none()))
        }, quietAfterExitMs)
      }
    }
    const cleanup = () => {
      readable.off("readable", attempt)
      readable.off("end", attempt)
      readable.off("close", attempt)
      exit.listeners.delete(quiet)
      if (timer !== undefined) clearTimeout(timer)
    }
    function attempt(): boolean {
      const chunk: Buffer | null = ended ? null : readable.read()
      if (chunk !== null) {
        cleanup()
        resume(Effect.succeed(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)))
        return true
      }
      if (ended || readable.readableEnded || readable.destroyed) {
        cleanup()
        resume(Effect.fail(Option.none()))
        return true
      }
      return false
    }
    if (attempt()) return
    readable.on("readable", attempt)
    readable.once("end", attempt)
    readable.once("close", attempt)
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
      signal: (signal) =>
        Effect.sync(() => {
          try {
            globalThis.process.kill(-child.pid!, signal)
          } catch {
            // the group is gone
          }
        }),
      exitCode: Deferred.await(exitCode)
    }
    return process
  })
