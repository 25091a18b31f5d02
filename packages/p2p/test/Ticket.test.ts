import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as http from "node:http"
import type * as net from "node:net"
import { P2pEndpoint, Ticket } from "../src/index.js"

/** A ticket broker as reference/heyo-api.md §5 describes it, answering `body` for every code. */
const broker = (status: number, body: string) =>
  Effect.acquireRelease(
    Effect.async<http.Server>((resume) => {
      const server = http.createServer((_request, response) => {
        response.writeHead(status, { "content-type": "application/json" })
        response.end(body)
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.sync(() => server.close())
  ).pipe(Effect.map((server) => `127.0.0.1:${(server.address() as net.AddressInfo).port}`))

describe("Ticket.resolve", () => {
  it.live("a full ticket is used as is; malformed forms and a code without relay are InvalidTicket", () =>
    Effect.gen(function*() {
      const endpoint = yield* P2pEndpoint.make()
      expect(yield* Ticket.resolve(endpoint.ticket)).toBe(endpoint.ticket)
      const errors = yield* Effect.forEach(
        ["https://x", "heyo://127.0.0.1:1/", "heyo://127.0.0.1:1/a/b", "heyo://[bad/code", "heyo://code"],
        (t) => Effect.flip(Ticket.resolve(t))
      )
      expect(errors.map((e) => e._tag)).toEqual(Array(5).fill("InvalidTicket"))
      expect(errors[4]!.message).toContain("relay")
      const badRelay = yield* Effect.flip(Ticket.resolve("heyo://code", { relay: "not a url" }))
      expect(badRelay.message).toContain("relay")
    }).pipe(Effect.scoped))

  it.live("a broker's answer must be a full ticket; its failures are P2pError with the status", () =>
    Effect.gen(function*() {
      const endpoint = yield* P2pEndpoint.make()
      const bare = endpoint.ticket.slice(Ticket.scheme.length)
      const good = yield* broker(200, JSON.stringify({ ticket: bare }))
      expect(yield* Ticket.resolve(`heyo://${good}/abc`)).toBe(endpoint.ticket)
      expect(yield* Ticket.resolve("heyo://abc", { relay: `http://${good}/` })).toBe(endpoint.ticket)
      const unknown = yield* broker(404, "{}")
      expect((yield* Effect.flip(Ticket.resolve(`heyo://${unknown}/abc`)))._tag).toBe("InvalidTicket")
      const failing = yield* broker(500, "boom")
      const failed = yield* Effect.flip(Ticket.resolve(`heyo://${failing}/abc`))
      expect([failed._tag, failed.message.includes("500")]).toEqual(["P2pError", true])
      const anotherCode = yield* broker(200, JSON.stringify({ ticket: "heyo://short" }))
      expect((yield* Effect.flip(Ticket.resolve(`heyo://${anotherCode}/abc`)))._tag).toBe("InvalidTicket")
      const noTicket = yield* broker(200, JSON.stringify({ nope: 1 }))
      expect((yield* Effect.flip(Ticket.resolve(`heyo://${noTicket}/abc`)))._tag).toBe("P2pError")
    }).pipe(Effect.scoped))
})
