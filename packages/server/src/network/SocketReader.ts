/**
 * A TCP socket's bytes as a Stream, read in paused mode (`read()` on `readable`): nothing is read
 * ahead of the consumer, and interrupting the consumer just removes the listeners. Not
 * `Stream.fromAsyncIterable(socket)`: Node's socket iterator is an async generator, whose
 * `return()` (the stream's finalizer) waits behind a pending `next()`, so interrupting a reader
 * of a quiet socket would hang its finalizer until the socket spoke or closed.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as net from "node:net"

const readChunk = (socket: net.Socket): Effect.Effect<Uint8Array, Option.Option<never>> =>
  Effect.async<Uint8Array, Option.Option<never>>((resume) => {
    const attempt = (): boolean => {
      const chunk = socket.read() as Buffer | null
      if (chunk !== null) {
        resume(Effect.succeed(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)))
        return true
      }
      if (socket.readableEnded || socket.destroyed) {
        resume(Effect.fail(Option.none()))
        return true
      }
      return false
    }
    if (attempt()) return
    const cleanup = () => {
      socket.off("readable", onEvent)
      socket.off("end", onEvent)
      socket.off("close", onEvent)
    }
    const onEvent = () => {
      if (attempt()) cleanup()
    }
    socket.on("readable", onEvent)
    socket.on("end", onEvent)
    socket.on("close", onEvent)
    return Effect.sync(cleanup)
  })

export const chunks = (socket: net.Socket): Stream.Stream<Uint8Array> => Stream.repeatEffectOption(readChunk(socket))
