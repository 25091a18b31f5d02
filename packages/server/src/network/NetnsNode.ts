/**
 * A small Node script run in a sandbox's network namespace (`nsenter --net`, heyod's mount
 * namespace, 32 MB heap), as heyod's forwarders are. Its stdin is a pipe from heyod: when heyod
 * exits, the script sees it close and ends too.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { hostEnv } from "../runtime/HostCommand.js"

export interface NetnsNode {
  readonly child: ChildProcess
  readonly alive: () => boolean
  /** SIGKILL if still running; resolves once it has exited. */
  readonly kill: () => Promise<void>
}

export const spawnInNetns = (nsenter: string, netnsPath: string, script: string, args: ReadonlyArray<string>): NetnsNode => {
  const child = spawn(nsenter, [`--net=${netnsPath}`, "--", process.execPath, "--max-old-space-size=32", script, ...args], {
    env: hostEnv,
    cwd: "/",
    stdio: ["pipe", "pipe", "pipe"]
  })
  // writes to a forwarder that just died must not crash heyod
  child.stdin!.on("error", () => {})
  const exited = new Promise<void>((done) => child.once("exit", () => done()))
  const alive = () => child.exitCode === null && child.signalCode === null
  const kill = () => {
    if (alive()) child.kill("SIGKILL")
    return exited
  }
  return { child, alive, kill }
}
