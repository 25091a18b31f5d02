"use strict"
/*
 * The sandbox's only door to the outside (reference/runtime.md §5 mode A). heyod runs it with
 * `nsenter --net=<the sandbox's netns>`: it lives in the sandbox's loopback-only network
 * namespace but in heyod's mount namespace, out of the sandbox's reach (another user namespace).
 *
 * - Egress: listens on 127.0.0.1:3128 inside the netns and pipes each connection, untouched, to
 *   heyod's proxy on the unix socket `argv[2]` (which names the sandbox: one socket per sandbox).
 * - Ingress: listens on the unix socket `argv[3]`; a client writes `<port>\n`, gets `ok\n` once
 *   127.0.0.1:<port> inside the netns accepted, or `error <reason>\n`, then raw bytes both ways.
 *
 * Prints `ready` once both listen. Exits when its stdin closes: heyod gone means no sandbox to serve.
 */
const net = require("node:net")
const fs = require("node:fs")

const [egressSocket, ingressSocket] = process.argv.slice(2)

// An orderly end travels through `pipe` (end() after the buffered bytes); only a side that
// closed without ending (a reset) tears the other down, or the stream's tail would be dropped.
const pipeBoth = (a, b) => {
  a.on("error", () => b.destroy())
  b.on("error", () => a.destroy())
  a.on("close", () => a.readableEnded || b.destroy())
  b.on("close", () => b.readableEnded || a.destroy())
  a.pipe(b)
  b.pipe(a)
}

const egress = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect(egressSocket)
  pipeBoth(client, upstream)
})

// half-open: heyod ending its side (its client shut down sending) must not cut the answer short
const ingress = net.createServer({ allowHalfOpen: true }, (client) => {
  let header = ""
  const onData = (chunk) => {
    header += chunk.toString("latin1")
    const end = header.indexOf("\n")
    if (end === -1) {
      if (header.length > 16) client.destroy()
      return
    }
    client.off("data", onData)
    client.pause()
    const port = Number(header.slice(0, end))
    const rest = Buffer.from(header.slice(end + 1), "latin1")
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      client.end("error invalid port\n")
      return
    }
    const target = net.connect({ host: "127.0.0.1", port, noDelay: true })
    target.once("error", (error) => {
      if (!client.destroyed) client.end(`error ${error.code || error.message}\n`)
    })
    target.once("connect", () => {
      target.removeAllListeners("error")
      client.write("ok\n")
      if (rest.length > 0) target.write(rest)
      pipeBoth(client, target)
      client.resume()
    })
  }
  client.on("data", onData)
  client.on("error", () => {})
})

let listening = 0
const ready = () => {
  if (++listening === 2) process.stdout.write("ready\n")
}
try {
  fs.rmSync(ingressSocket, { force: true })
} catch {}
egress.on("error", (error) => {
  process.stderr.write(`egress listener: ${error.message}\n`)
  process.exit(1)
})
ingress.on("error", (error) => {
  process.stderr.write(`ingress listener: ${error.message}\n`)
  process.exit(1)
})
egress.listen({ host: "127.0.0.1", port: 3128 }, ready)
ingress.listen(ingressSocket, ready)

process.stdin.on("data", () => {})
process.stdin.on("end", () => process.exit(0))
process.stdin.on("error", () => process.exit(0))
