/**
 * Which TCP ports listen inside a sandbox, read from the host without entering it:
 * `/proc/<pid>/net/tcp{,6}` shows the network namespace of `pid`, and the forwarder lives in the
 * sandbox's. The listening process is found by its socket inode among the processes in that
 * namespace (the forwarder's own 3128 excluded: it is heyod's), and reported with the pid the
 * sandbox sees (its pid namespace's number).
 */
import * as fs from "node:fs"

export interface Listener {
  readonly port: number
  readonly address: string
  readonly pid: number
}

const ipv4 = (hex: string) =>
  [hex.slice(6, 8), hex.slice(4, 6), hex.slice(2, 4), hex.slice(0, 2)].map((b) => parseInt(b, 16)).join(".")

/** 32 hex digits, four little-endian 32-bit words. */
const ipv6 = (hex: string) => {
  const bytes: Array<string> = []
  for (let word = 0; word < 4; word++) {
    const w = hex.slice(word * 8, word * 8 + 8)
    bytes.push(w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2))
  }
  const groups: Array<string> = []
  for (let i = 0; i < 16; i += 2) groups.push(parseInt(bytes[i]! + bytes[i + 1]!, 16).toString(16))
  const text = groups.join(":")
  return text === "0:0:0:0:0:0:0:0" ? "::" : text === "0:0:0:0:0:0:0:1" ? "::1" : text
}

const parse = (text: string, v6: boolean) =>
  text.split("\n").slice(1).flatMap((line) => {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 10 || fields[3] !== "0A") return []
    const [address, port] = fields[1]!.split(":")
    return [{ address: v6 ? ipv6(address!) : ipv4(address!), port: parseInt(port!, 16), inode: fields[9]! }]
  })

const read = (file: string) => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return ""
  }
}

/** Socket inode -> pid, for the processes in the same network namespace as `pid`. */
const owners = (pid: number) => {
  const result = new Map<string, number>()
  let netns: number
  try {
    netns = fs.statSync(`/proc/${pid}/ns/net`).ino
  } catch {
    return result
  }
  for (const entry of fs.readdirSync("/proc")) {
    const other = Number(entry)
    if (!Number.isInteger(other) || other === pid) continue
    try {
      if (fs.statSync(`/proc/${other}/ns/net`).ino !== netns) continue
      // the pid as the sandbox numbers it: the last of NSpid
      const nspid = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${other}/status`, "utf8"))?.[1]?.trim().split(/\s+/).at(-1)
      const inner = nspid === undefined ? other : Number(nspid)
      for (const fd of fs.readdirSync(`/proc/${other}/fd`)) {
        const link = fs.readlinkSync(`/proc/${other}/fd/${fd}`)
        if (link.startsWith("socket:[")) result.set(link.slice(8, -1), inner)
      }
    } catch {
      // exited while we looked
    }
  }
  return result
}

/** Listening sockets in the network namespace of `pid` (the forwarder), minus the forwarder's. */
export const listeners = (forwarderPid: number): ReadonlyArray<Listener> => {
  const sockets = [
    ...parse(read(`/proc/${forwarderPid}/net/tcp`), false),
    ...parse(read(`/proc/${forwarderPid}/net/tcp6`), true)
  ]
  if (sockets.length === 0) return []
  const pids = owners(forwarderPid)
  const seen = new Set<string>()
  const out: Array<Listener> = []
  for (const socket of sockets) {
    const pid = pids.get(socket.inode)
    // the forwarder's own listener: not found among the others, it is heyod's 3128
    if (pid === undefined && socket.port === 3128) continue
    const key = `${socket.address}:${socket.port}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ port: socket.port, address: socket.address, pid: pid ?? 0 })
  }
  return out.sort((a, b) => a.port - b.port || a.address.localeCompare(b.address))
}
