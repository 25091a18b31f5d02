import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as crypto from "node:crypto"
import { BiStream, HEY_PROXY_ALPN, P2pEndpoint, Ticket } from "../src/index.js"
import { echo, readAll } from "./support/Streams.js"

describe("P2pEndpoint (loopback, minimal preset, no relay)", () => {
  it.live("binds on loopback only and formats a heyo:// ticket that parses back", () =>
    Effect.gen(function*() {
      const server = yield* P2pEndpoint.make()
      for (const address of server.boundSockets) expect(address).toMatch(/^(127\.0\.0\.1|\[::1\]):\d+$/)
      expect(server.ticket.startsWith("heyo://endpoint")).toBe(true)
      const addr = yield* Ticket.parse(server.ticket)
      expect(addr.id().toString()).toBe(server.id)
      expect(addr.relayUrl()).toBeNull()
      const bad = yield* Effect.flip(Ticket.parse("heyo://short"))
      expect(bad._tag).toBe("InvalidTicket")
      const garbage = yield* Effect.flip(Ticket.parse(`heyo://${"x".repeat(80)}`))
      expect(garbage._tag).toBe("InvalidTicket")
    }).pipe(Effect.scoped))

  it.live("echoes bytes over parallel bi streams of one connection", () =>
    Effect.gen(function*() {
      const server = yield* P2pEndpoint.make()
      yield* Effect.forkScoped(server.serve(HEY_PROXY_ALPN, echo))
      const client = yield* P2pEndpoint.make()
      const connection = yield* client.connect(server.ticket, HEY_PROXY_ALPN)
      expect(connection.remoteId).toBe(server.id)
      const results = yield* Effect.forEach(Array.from({ length: 5 }), () =>
        Effect.gen(function*() {
          const payload = crypto.randomBytes(256 * 1024)
          const stream = yield* connection.openStream
          const received = readAll(stream)
          stream.end(payload)
          return Buffer.compare(yield* received, payload)
        }), { concurrency: "unbounded" })
      expect(results).toEqual([0, 0, 0, 0, 0])
    }).pipe(Effect.scoped), 30_000)

  it.live("the same secret key gives the same endpoint id", () =>
    Effect.gen(function*() {
      const first = yield* Effect.scoped(P2pEndpoint.make())
      const again = yield* P2pEndpoint.make({ secretKey: first.secretKey })
      expect(again.id).toBe(first.id)
    }).pipe(Effect.scoped))

  it.live("refuses another ALPN, and fails once the server endpoint is closed", () =>
    Effect.gen(function*() {
      const client = yield* P2pEndpoint.make({ connectTimeoutMs: 1500 })
      const ticket = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* P2pEndpoint.make()
        yield* Effect.forkScoped(server.serve(HEY_PROXY_ALPN, echo))
        const wrong = yield* Effect.flip(Effect.scoped(client.connect(server.ticket, "other/0")))
        expect(wrong._tag).toBe("P2pError")
        expect(wrong.message).toContain("protocol")
        return server.ticket
      }))
      const gone = yield* Effect.flip(Effect.scoped(client.connect(ticket, HEY_PROXY_ALPN)))
      expect(gone._tag).toBe("P2pError")
    }).pipe(Effect.scoped), 20_000)

  it.live("splice ends the other writer at EOF", () =>
    Effect.gen(function*() {
      const server = yield* P2pEndpoint.make()
      const { PassThrough } = yield* Effect.promise(() => import("node:stream"))
      yield* Effect.forkScoped(server.serve(HEY_PROXY_ALPN, (stream) => {
        const sink = new PassThrough()
        return BiStream.splice(stream, sink)
      }))
      const client = yield* P2pEndpoint.make()
      const connection = yield* client.connect(server.ticket, HEY_PROXY_ALPN)
      const stream = yield* connection.openStream
      const received = readAll(stream)
      stream.end(Buffer.from("hello"))
      expect((yield* received).toString()).toBe("hello")
    }).pipe(Effect.scoped), 20_000)
})
