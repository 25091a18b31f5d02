import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as crypto from "node:crypto"
import type { Duplex } from "node:stream"
import { HEY_PROXY_ALPN, P2pEndpoint } from "../src/index.js"
import { echo, readAll } from "./support/Streams.js"

/** Writes `payload` in chunks of random sizes, some corked together so they reach `writev`. */
const writeScattered = (stream: Duplex, payload: Buffer) =>
  Effect.promise(async () => {
    let offset = 0
    while (offset < payload.length) {
      const corked = Math.random() < 0.3
      if (corked) stream.cork()
      for (let i = 0; i < (corked ? 4 : 1) && offset < payload.length; i++) {
        // sizes around the 64 KiB piece the writer reuses: below, at, above and multiples
        const sizes = [1, 1000, 65535, 65536, 65537, 200_000]
        const size = Math.min(payload.length - offset, sizes[crypto.randomInt(sizes.length)]!)
        const ok = stream.write(payload.subarray(offset, offset + size))
        offset += size
        if (!ok && !corked) await new Promise((resolve) => stream.once("drain", resolve))
      }
      if (corked) {
        stream.uncork()
        if (stream.writableNeedDrain) await new Promise((resolve) => stream.once("drain", resolve))
      }
    }
    stream.end()
  })

describe("BiStream.toDuplex (loopback, minimal preset, no relay)", () => {
  it.live("keeps bytes exact and in order across chunk sizes, batched writes and parallel streams", () =>
    Effect.gen(function*() {
      const server = yield* P2pEndpoint.make()
      yield* Effect.forkScoped(server.serve(HEY_PROXY_ALPN, echo))
      const client = yield* P2pEndpoint.make()
      const connection = yield* client.connect(server.ticket, HEY_PROXY_ALPN)
      const results = yield* Effect.forEach(Array.from({ length: 6 }), () =>
        Effect.gen(function*() {
          const payload = crypto.randomBytes(600 * 1024 + crypto.randomInt(1000))
          const stream = yield* connection.openStream
          // reading while writing: the echo would otherwise stall once the windows fill
          const received = yield* Effect.fork(readAll(stream))
          yield* writeScattered(stream, payload)
          const echoed = yield* Fiber.join(received)
          return echoed.length === payload.length && echoed.equals(payload)
        }), { concurrency: "unbounded" })
      expect(results).toEqual([true, true, true, true, true, true])
    }).pipe(Effect.scoped), 60_000)
})
