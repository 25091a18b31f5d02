/**
 * Running host tools (mount, ip, btrfs, losetup...) as root and turning a failure into a
 * RuntimeError that carries the tool's own message.
 */
import * as Effect from "effect/Effect"
import { spawn } from "node:child_process"
import { RuntimeError } from "./Runtime.js"

/**
 * The environment of every process heyod starts for the runtime. Never heyod's own: its
 * variables (an API key, tokens) would be readable in the sandbox through /proc/<pid>/environ.
 * LC_ALL=C keeps tool messages stable enough to be read back.
 */
export const hostEnv: Readonly<Record<string, string>> = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  LC_ALL: "C"
}

export interface RunOptions {
  /** Names the failing operation in the RuntimeError. */
  readonly operation: string
  readonly sandboxId?: string | undefined
  /** Exit codes that count as success besides 0. */
  readonly okCodes?: ReadonlyArray<number> | undefined
  readonly timeoutMs?: number | undefined
}

export interface RunResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

const commandLine = (file: string, args: ReadonlyArray<string>) => [file, ...args].join(" ")

/** Runs `file args` to completion; a non-zero exit (not in okCodes) fails with its stderr. */
export const run = (file: string, args: ReadonlyArray<string>, options: RunOptions) =>
  Effect.async<RunResult, RuntimeError>((resume) => {
    const fail = (message: string) =>
      resume(Effect.fail(
        new RuntimeError({
          operation: options.operation,
          message,
          ...(options.sandboxId !== undefined ? { sandboxId: options.sandboxId } : {})
        })
      ))
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(file, args, {
        cwd: "/",
        env: hostEnv,
        stdio: ["ignore", "pipe", "pipe"]
      })
    } catch (error) {
      fail(`${commandLine(file, args)}: ${String(error)}`)
      return
    }
    let stdout = ""
    let stderr = ""
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000)
    child.once("error", (error) => {
      clearTimeout(timer)
      fail(`${commandLine(file, args)}: ${error.message}`)
    })
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      const exitCode = code ?? 128
      if (exitCode === 0 || options.okCodes?.includes(exitCode)) {
        resume(Effect.succeed({ exitCode, stdout, stderr }))
      } else {
        const why = stderr.trim() || stdout.trim() || (signal !== null ? `killed by ${signal}` : `exit code ${exitCode}`)
        fail(`${commandLine(file, args)} failed: ${why}`)
      }
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })
