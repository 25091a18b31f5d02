/**
 * heyod's egress proxy for one sandbox: an HTTP proxy (absolute-URI requests and CONNECT, TLS
 * passed through untouched) listening on a unix socket that only that sandbox's forwarder
 * reaches, so the socket names the sandbox.
 *
 * Every request goes through `gate`, in this order: the policy on the requested name (before any
 * lookup, so a denied name is never resolved), then heyod's own resolution of the name, then the
 * check of the resolved address (AddressCheck.ts). The connection goes to exactly the address
 * that was checked. A refusal is a 403 whose JSON body names the rule or the address.
 *
 * Open connections are tracked with the name they were opened for: after a policy change,
 * `recheck` cuts those the new policy denies.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as AddressCheck from "./AddressCheck.js"
import * as Policy from "./Policy.js"
import type { Resolver } from "./Resolver.js"

export interface Options {
  readonly sandboxId: string
  readonly socketPath: string
  readonly policy: () => Policy.Policy
  readonly resolve: Resolver
  /** Called for each lookup and each refusal, for heyod's log. */
  readonly log: (message: string) => void
}

export interface EgressProxy {
  /** Cuts open connections whose name the current policy denies. */
  readonly recheck: () => number
  /** How many connections are open (requests in flight and CONNECT tunnels). */
  readonly openConnections: () => number
  readonly close: () => Promise<void>
}

interface Tracked {
  readonly host: string
  readonly cut: () => void
}

type Gate =
  | { readonly _tag: "Connect"; readonly address: string }
  | { readonly _tag: "Refuse"; readonly status: number; readonly body: Record<string, unknown> }

const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade"
])

/** `host:port`, `[v6]:port`; undefined when malformed. */
const parseAuthority = (authority: string): { host: string; port: number } | undefined => {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(authority)
  if (match === null) return undefined
  const port = Number(match[3])
  if (port < 1 || port > 65535) return undefined
  return { host: (match[1] ?? match[2])!, port }
}

export const start = (options: Options): Promise<EgressProxy> => {
  const tracked = new Set<Tracked>()
  const sockets = new Set<net.Socket>()

  const gate = async (rawHost: string): Promise<Gate> => {
    const host = Policy.normalizeHost(rawHost)
    const decision = Policy.decide(options.policy(), host)
    if (!decision.allowed) {
      const message = `${host} is denied by the network policy's ${Policy.describeRule(decision.rule)}`
      options.log(`egress ${options.sandboxId}: ${message}`)
      return { _tag: "Refuse", status: 403, body: { error: "egress_denied", message, host, rule: decision.rule } }
    }
    let address: string
    let exempt = false
    if (net.isIP(host) !== 0) {
      address = host
    } else {
      try {
        const resolved = await options.resolve(host)
        address = resolved.address
        exempt = resolved.exempt
        options.log(`egress ${options.sandboxId}: lookup ${host} -> ${address}`)
      } catch (error) {
        const message = `cannot resolve ${host}: ${error instanceof Error ? error.message : String(error)}`
        options.log(`egress ${options.sandboxId}: lookup ${host} failed`)
        return { _tag: "Refuse", status: 502, body: { error: "egress_unresolved", message, host } }
      }
    }
    const refused = exempt ? undefined : AddressCheck.refusal(address)
    if (refused !== undefined) {
      const message = `${host} refused: ${refused}`
      options.log(`egress ${options.sandboxId}: ${message}`)
      return { _tag: "Refuse", status: 403, body: { error: "egress_address_refused", message, host, address } }
    }
    return { _tag: "Connect", address }
  }

  const track = (host: string, cut: () => void) => {
    const entry: Tracked = { host: Policy.normalizeHost(host), cut }
    tracked.add(entry)
    return () => tracked.delete(entry)
  }

  const replyJson = (res: http.ServerResponse, status: number, body: Record<string, unknown>) => {
    if (res.headersSent) return res.destroy()
    const text = JSON.stringify(body) + "\n"
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      "x-heyo-egress": "refused"
    })
    res.end(text)
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    let url: URL
    try {
      url = new URL(req.url ?? "")
    } catch {
      return replyJson(res, 400, {
        error: "bad_request",
        message: "heyo egress proxy: send absolute http:// URLs (a proxy request) or CONNECT host:port"
      })
    }
    if (url.protocol !== "http:") {
      return replyJson(res, 400, { error: "bad_request", message: `heyo egress proxy: ${url.protocol} URLs go through CONNECT` })
    }
    const host = url.hostname
    const port = url.port === "" ? 80 : Number(url.port)
    void gate(host).then((result) => {
      if (result._tag === "Refuse") return replyJson(res, result.status, result.body)
      const headers: http.OutgoingHttpHeaders = {}
      for (const [name, value] of Object.entries(req.headers)) {
        if (!hopByHop.has(name) && value !== undefined) headers[name] = value
      }
      const upstream = http.request({
        host: result.address,
        port,
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers,
        setHost: false,
        agent: false
      })
      const untrack = track(host, () => {
        upstream.destroy()
        req.socket.destroy()
      })
      upstream.on("response", (response) => {
        const out: http.OutgoingHttpHeaders = {}
        for (const [name, value] of Object.entries(response.headers)) {
          if (!hopByHop.has(name) && value !== undefined) out[name] = value
        }
        res.writeHead(response.statusCode ?? 502, response.statusMessage, out)
        response.pipe(res)
        response.on("error", () => res.destroy())
      })
      upstream.on("error", (error) => {
        untrack()
        replyJson(res, 502, { error: "egress_upstream", message: `${host}:${port}: ${error.message}`, host })
      })
      res.on("close", () => {
        untrack()
        upstream.destroy()
      })
      req.pipe(upstream)
    })
  }

  const onConnect = (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on("error", () => socket.destroy())
    const refuse = (status: number, body: Record<string, unknown>) => {
      const text = JSON.stringify(body) + "\n"
      const reason = status === 403 ? "Forbidden" : status === 400 ? "Bad Request" : "Bad Gateway"
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${
          Buffer.byteLength(text)
        }\r\nx-heyo-egress: refused\r\nconnection: close\r\n\r\n${text}`
      )
    }
    const authority = parseAuthority(req.url ?? "")
    if (authority === undefined) return refuse(400, { error: "bad_request", message: `CONNECT needs host:port, got ${req.url}` })
    void gate(authority.host).then((result) => {
      if (result._tag === "Refuse") return refuse(result.status, result.body)
      const upstream = net.connect({ host: result.address, port: authority.port, noDelay: true })
      const untrack = track(authority.host, () => {
        upstream.destroy()
        socket.destroy()
      })
      upstream.once("error", (error) => {
        untrack()
        if (!socket.destroyed) {
          refuse(502, { error: "egress_upstream", message: `${authority.host}:${authority.port}: ${error.message}`, host: authority.host })
        }
      })
      upstream.once("connect", () => {
        upstream.removeAllListeners("error")
        upstream.on("error", () => socket.destroy())
        socket.write("HTTP/1.1 200 Connection Established\r\n\r\n")
        if (head.length > 0) upstream.write(head)
        upstream.pipe(socket)
        socket.pipe(upstream)
        const done = () => {
          untrack()
          upstream.destroy()
          socket.destroy()
        }
        upstream.once("close", done)
        socket.once("close", done)
      })
    })
  }

  const server = http.createServer({ requireHostHeader: false } as http.ServerOptions)
  server.on("request", onRequest)
  server.on("connect", onConnect)
  server.on("clientError", (_error, socket) => socket.destroy())
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket)
    socket.once("close", () => sockets.delete(socket))
  })

  return new Promise((resolve, reject) => {
    fs.rmSync(options.socketPath, { force: true })
    server.once("error", reject)
    server.listen(options.socketPath, () => {
      server.off("error", reject)
      fs.chmodSync(options.socketPath, 0o600)
      resolve({
        recheck: () => {
          let cut = 0
          const policy = options.policy()
          for (const entry of [...tracked]) {
            if (!Policy.decide(policy, entry.host).allowed) {
              tracked.delete(entry)
              entry.cut()
              cut++
            }
          }
          return cut
        },
        openConnections: () => tracked.size,
        close: () =>
          new Promise<void>((done) => {
            for (const entry of tracked) entry.cut()
            tracked.clear()
            for (const socket of sockets) socket.destroy()
            server.close(() => {
              fs.rmSync(options.socketPath, { force: true })
              done()
            })
          })
      })
    })
  })
}
