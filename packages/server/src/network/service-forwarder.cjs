"use strict"
/*
 * Private-network services inside one member sandbox (Networks.ts). heyod runs it with
 * `nsenter --net=<the sandbox's netns>`, as forwarder.cjs: in the sandbox's loopback-only network
 * namespace, in heyod's mount namespace, out of the sandbox's reach.
 *
 * heyod writes on stdin, one JSON line each time the set changes: `{"gen":n,"listen":["127.77.0.1:5432",...]}`,
 * the whole set of loopback addresses to listen on (one per service name:port the sandbox may
 * reach). It answers `applied <gen>` once every listener of that set is open or failed (failures
 * go to stderr). Each accepted connection goes to heyod over the unix socket `argv[2]` (one per
 * sandbox, so it names the sandbox) with a first line `<address> <port>\n`, then raw bytes both
 * ways; heyod checks membership and relays to the service's sandbox, or closes.
 *
 * Prints `ready` once started. Exits when its stdin closes.
 */
const net = require("node:net")

const [relaySocket] = process.argv.slice(2)

const pipeBoth = (a, b) => {
  a.on("error", () => b.destroy())
  b.on("error", () => a.destroy())
  a.on("close", () => a.readableEnded || b.destroy())
  b.on("close", () => b.readableEnded || a.destroy())
  a.pipe(b)
  b.pipe(a)
}

/** "address:port" -> server */
const listeners = new Map()

const listen = (key) =>
  new Promise((resolve) => {
    const at = key.lastIndexOf(":")
    const host = key.slice(0, at)
    const port = Number(key.slice(at + 1))
    // half-open: a client that shut down its sending side still reads the answer
    const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
      const upstream = net.connect(relaySocket)
      upstream.write(`${host} ${port}\n`)
      pipeBoth(client, upstream)
    })
    server.once("error", (error) => {
      process.stderr.write(`listen ${key}: ${error.message}\n`)
      listeners.delete(key)
      resolve()
    })
    server.listen({ host, port }, () => resolve())
    listeners.set(key, server)
  })

const apply = async (wanted) => {
  const set = new Set(wanted)
  for (const [key, server] of listeners) {
    if (!set.has(key)) {
      listeners.delete(key)
      server.close()
    }
  }
  await Promise.all([...set].filter((key) => !listeners.has(key)).map(listen))
}

let buffer = ""
let queue = Promise.resolve()
process.stdin.setEncoding("utf8")
process.stdin.on("data", (chunk) => {
  buffer += chunk
  let end
  while ((end = buffer.indexOf("\n")) !== -1) {
    const line = buffer.slice(0, end)
    buffer = buffer.slice(end + 1)
    let message
    try {
      message = JSON.parse(line)
    } catch {
      process.stderr.write(`unreadable command: ${line.slice(0, 80)}\n`)
      continue
    }
    queue = queue.then(() => apply(message.listen)).then(() => process.stdout.write(`applied ${message.gen}\n`))
  }
})
process.stdin.on("end", () => process.exit(0))
process.stdin.on("error", () => process.exit(0))
process.stdout.write("ready\n")
