/**
 * heyod's side of one database's SQL worker process: started on first use, sent one request at
 * a time by its owner, and killed when a request outlives the statement timeout (the only way
 * to stop a statement better-sqlite3 is running). A killed or crashed worker is replaced at the
 * next request; `generation` tells callers (Hrana streams) that their connections are gone.
 */
import { type ChildProcess, fork } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import type { Request, Response } from "./WorkerProtocol.js"

const workerPath = fileURLToPath(new URL(import.meta.url.endsWith(".ts") ? "./SqlWorker.ts" : "./SqlWorker.js", import.meta.url))

// The worker is TypeScript like the rest of heyod: load it through tsx's loader, resolved from
// here so it works whatever the current directory is.
const execArgv = workerPath.endsWith(".ts") ? ["--import", createRequire(import.meta.url).resolve("tsx")] : []

/** Why a request got no answer from SQLite. */
export type ProcessFailure =
  | { readonly _tag: "Timeout"; readonly millis: number }
  | { readonly _tag: "Crashed"; readonly message: string }

export type Outcome =
  | { readonly _tag: "Answer"; readonly response: Response }
  | { readonly _tag: "Failed"; readonly failure: ProcessFailure }

type Request$ = Request extends infer R ? (R extends { readonly id: number } ? Omit<R, "id"> : never) : never

interface Pending {
  readonly resolve: (outcome: Outcome) => void
  readonly timer: NodeJS.Timeout | undefined
}

export class SqlProcess {
  private child: ChildProcess | undefined
  private ready: Promise<ChildProcess> | undefined
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  /** Bumped each time a worker is started: connections of an older generation are gone. */
  generation = 0

  /** `onExit` runs whenever a worker ends (killed, crashed or closed): its connections are gone. */
  constructor(readonly file: string, private readonly onExit: () => void = () => {}) {}

  private start(): Promise<ChildProcess> {
    this.generation++
    const child = fork(workerPath, [this.file], {
      execArgv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    this.child = child
    const ready = new Promise<ChildProcess>((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if ((message as { ready?: boolean }).ready === true) {
          child.off("message", onMessage)
          resolve(child)
        }
      }
      child.on("message", onMessage)
      child.once("exit", (code, signal) => reject(new Error(`SQL worker exited (${signal ?? code}) while starting`)))
      child.once("error", reject)
    })
    child.on("message", (message: Response | { ready: true }) => {
      if (!("id" in message)) return
      const pending = this.pending.get(message.id)
      if (pending === undefined) return
      this.pending.delete(message.id)
      if (pending.timer !== undefined) clearTimeout(pending.timer)
      pending.resolve({ _tag: "Answer", response: message })
    })
    child.once("exit", (code, signal) => {
      this.failAll({ _tag: "Crashed", message: `the SQL worker exited (${signal ?? `code ${code}`})` })
      this.retire(child)
    })
    // A failed start must not stay cached: the next request tries again.
    this.ready = ready.catch((error) => {
      this.retire(child)
      throw error
    })
    return this.ready
  }

  private readonly retired = new WeakSet<ChildProcess>()

  /** Forgets a worker that is ending, once: its connections are gone from this moment on. */
  private retire(child: ChildProcess) {
    if (this.retired.has(child)) return
    this.retired.add(child)
    if (this.child === child) {
      this.child = undefined
      this.ready = undefined
    }
    this.onExit()
  }

  private failAll(failure: ProcessFailure) {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id)
      if (pending.timer !== undefined) clearTimeout(pending.timer)
      pending.resolve({ _tag: "Failed", failure })
    }
  }

  /**
   * Sends one request. `timeoutMillis` bounds the time SQLite may spend on it; past it the
   * worker is killed (every open connection with it) and the request fails with Timeout.
   */
  async request(request: Request$, timeoutMillis: number | undefined): Promise<Outcome> {
    let child: ChildProcess
    try {
      child = await (this.ready ?? this.start())
    } catch (error) {
      return { _tag: "Failed", failure: { _tag: "Crashed", message: String((error as Error).message ?? error) } }
    }
    const id = this.nextId++
    return new Promise<Outcome>((resolve) => {
      const timer = timeoutMillis === undefined ? undefined : setTimeout(() => {
        const pending = this.pending.get(id)
        if (pending === undefined) return
        this.pending.delete(id)
        pending.resolve({ _tag: "Failed", failure: { _tag: "Timeout", millis: timeoutMillis } })
        this.kill()
      }, timeoutMillis)
      this.pending.set(id, { resolve, timer })
      child.send({ ...request, id } as Request, (error) => {
        if (error === null || error === undefined) return
        const pending = this.pending.get(id)
        if (pending === undefined) return
        this.pending.delete(id)
        if (pending.timer !== undefined) clearTimeout(pending.timer)
        resolve({ _tag: "Failed", failure: { _tag: "Crashed", message: `could not reach the SQL worker: ${error.message}` } })
      })
    })
  }

  /** Stops the worker at once (SIGKILL): SQLite rolls back whatever was not committed. */
  kill() {
    const child = this.child
    if (child === undefined) return
    this.retire(child)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }

  /** Asks the worker to close its connections and exit; kills it if it does not within `graceMillis`. */
  close(graceMillis = 2000): Promise<void> {
    const child = this.child
    if (child === undefined) return Promise.resolve()
    this.retire(child)
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMillis)
      child.once("exit", () => {
        clearTimeout(timer)
        resolve()
      })
      child.disconnect()
    })
  }
}
