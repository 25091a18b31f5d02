/** Stream helpers for the P2P tests: read a Duplex to its end, echo one back to itself. */
import * as Effect from "effect/Effect"
import type { Duplex } from "node:stream"

export const readAll = (stream: Duplex) =>
  Effect.async<Buffer>((resume) => {
    const chunks: Array<Buffer> = []
    stream.on("data", (c: Buffer) => chunks.push(c))
    stream.once("end", () => resume(Effect.succeed(Buffer.concat(chunks))))
    stream.once("error", (e) => resume(Effect.die(e)))
  })

export const echo = (stream: Duplex) =>
  Effect.async<void>((resume) => {
    stream.pipe(stream)
    stream.once("close", () => resume(Effect.void))
  })
