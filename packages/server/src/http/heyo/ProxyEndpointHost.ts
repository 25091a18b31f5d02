/**
 * Serves bound URLs: a request whose Host is `<subdomain>.localhost[:port]` goes to the bound
 * sandbox port, HTTP and WebSocket upgrades alike (the upgrade's bytes are relayed raw), through
 * the sandbox's forwarder. curl and browsers resolve `*.localhost` to loopback; other clients
 * connect to 127.0.0.1 and set the Host header.
 *
 * A non-public URL needs heyod's API key (when heyod has one): `Authorization: Bearer <key>`, or
 * the cookie that `GET /__heyo/login?key=<key>&next=/path` on that host sets (an HMAC of the key,
 * never the key) before redirecting to `next`. heyod's credentials are stripped before the
 * request reaches the sandbox: the sandbox never sees the API key.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import { HeyoNetworkEndpoint } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import * as http from "node:http"
import type * as net from "node:net"
import * as Network from "../../network/Network.js"
import { ServerConfig } from "../../ServerConfig.js"
import { keyMatches } from "../Auth.js"

const hostPattern = /^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.localhost(?::\d+)?$/i

/** The bound subdomain a request is for, if its Host names one. */
export const subdomainOf = (request: HttpServerRequest.HttpServerRequest) =>
  hostPattern.exec(request.headers["host"] ?? "")?.[1]?.toLowerCase()

const cookieValue = (key: Redacted.Redacted<string>) =>
  crypto.createHmac("sha256", Redacted.value(key)).update("heyo bound url").digest("base64url")

const readCookie = (header: string | undefined, name: string) =>
  header?.split(";").map((part) => part.trim()).find((part) => part.startsWith(`${name}=`))?.slice(name.length + 1)

/** The Cookie header without heyod's own cookie; undefined when nothing else is left. */
const withoutOurCookie = (header: string | undefined) => {
  const rest = header?.split(";").map((p) => p.trim()).filter((p) => p !== "" && !p.startsWith(`${HeyoNetworkEndpoint.cookieName}=`))
  return rest === undefined || rest.length === 0 ? undefined : rest.join("; ")
}

const plain = (res: http.ServerResponse, status: number, text: string, headers: http.OutgoingHttpHeaders = {}) => {
  if (res.headersSent) return res.destroy()
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers })
  res.end(text)
}

const finished = (res: http.ServerResponse) =>
  Effect.async<void>((resume) => {
    if (res.writableEnded || res.destroyed) return resume(Effect.void)
    const done = () => resume(Effect.void)
    res.once("finish", done)
    res.once("close", done)
  })

export const app = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const incoming = NodeHttpServerRequest.toIncomingMessage(request)
  const subdomain = subdomainOf(request)!
  const network = yield* Network.optional
  const binding = network?.bindingFor(subdomain)
  const upgrade = request.headers["upgrade"] !== undefined
  const res = upgrade ? undefined : NodeHttpServerRequest.toServerResponse(request)
  const refuse = (status: number, text: string, headers: http.OutgoingHttpHeaders = {}) =>
    Effect.sync(() => {
      if (res !== undefined) return plain(res, status, text, headers)
      const socket = incoming.socket
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`)
    }).pipe(Effect.as(HttpServerResponse.empty()))

  if (network === undefined || binding === undefined) return yield* refuse(404, `no bound URL ${subdomain}.localhost\n`)
  const { apiKey } = yield* ServerConfig
  const url = new URL(request.url, "http://bound")

  if (url.pathname === HeyoNetworkEndpoint.loginPath) {
    const key = url.searchParams.get("key") ?? ""
    if (apiKey === undefined) return yield* refuse(404, "this heyod has no API key: nothing to log in to\n")
    if (!keyMatches(apiKey, key)) return yield* refuse(401, "invalid API key\n")
    const next = url.searchParams.get("next") ?? "/"
    // only a path on this same host: never an open redirect
    const target = next.startsWith("/") && !next.startsWith("//") ? next : "/"
    return yield* refuse(302, "", {
      location: target,
      "set-cookie": `${HeyoNetworkEndpoint.cookieName}=${cookieValue(apiKey)}; Path=/; HttpOnly; SameSite=Lax`
    })
  }

  const headers = { ...incoming.headers }
  if (apiKey !== undefined) {
    const bearer = /^Bearer\s+(.+)$/i.exec(headers["authorization"] ?? "")?.[1]?.trim()
    const bearerOk = bearer !== undefined && keyMatches(apiKey, bearer)
    const cookie = readCookie(headers["cookie"], HeyoNetworkEndpoint.cookieName)
    const cookieOk = cookie !== undefined &&
      crypto.timingSafeEqual(crypto.createHash("sha256").update(cookie).digest(), crypto.createHash("sha256").update(cookieValue(apiKey)).digest())
    if (!binding.isPublic && !bearerOk && !cookieOk) {
      return yield* refuse(
        401,
        `this URL is private: send Authorization: Bearer <key>, or log in at ${HeyoNetworkEndpoint.loginPath}?key=<key>&next=${encodeURIComponent(url.pathname)}\n`,
        { "www-authenticate": "Bearer" }
      )
    }
    if (bearerOk) delete headers["authorization"]
  }
  const cookies = withoutOurCookie(headers["cookie"])
  if (cookies === undefined) delete headers["cookie"]
  else headers["cookie"] = cookies

  const upstream = yield* network.connectPort(binding.sandboxId, binding.port).pipe(Effect.either)
  if (upstream._tag === "Left") return yield* refuse(502, `${upstream.left.message}\n`)
  const tcp = upstream.right

  if (res === undefined) {
    // an upgrade: send the request head as received (minus heyod's credentials), then raw bytes
    const client = incoming.socket as net.Socket
    const lines = [`${incoming.method} ${incoming.url} HTTP/1.1`]
    for (const [name, value] of Object.entries(headers)) {
      for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) lines.push(`${name}: ${v}`)
    }
    yield* Effect.async<void>((resume) => {
      const done = () => {
        client.destroy()
        tcp.destroy()
        resume(Effect.void)
      }
      tcp.once("close", done)
      client.once("close", done)
      tcp.on("error", done)
      client.on("error", done)
      tcp.write(`${lines.join("\r\n")}\r\n\r\n`)
      tcp.pipe(client)
      client.pipe(tcp)
    })
    return HttpServerResponse.empty()
  }

  yield* Effect.async<void>((resume) => {
    const forward = http.request({
      createConnection: () => tcp,
      method: incoming.method,
      path: incoming.url,
      // no agent: the connection is the one to the sandbox port, used once
      headers
    })
    forward.on("response", (response) => {
      res.writeHead(response.statusCode ?? 502, response.statusMessage, response.headers)
      response.pipe(res)
    })
    forward.on("error", (error) => plain(res, 502, `${error.message}\n`))
    res.once("close", () => {
      forward.destroy()
      tcp.destroy()
    })
    incoming.pipe(forward)
    // connectPort hands the socket over paused; the HTTP client's listener does not resume it
    tcp.resume()
    resume(Effect.void)
  })
  yield* finished(res)
  return HttpServerResponse.empty()
})
