/**
 * An iroh bidirectional stream as a Node Duplex, and the splice of two duplexes. The bindings take
 * and return number arrays, so each chunk is copied once each way at the boundary.
 */
import type * as IrohTypes from "@number0/iroh/index.js"
import * as Effect from "effect/Effect"
import { Duplex } from "node:stream"

const readSize = 64 * 1024

export const toDuplex = (bi: IrohTypes.BiStream): Duplex => {
  const recv = bi.recv
  const send = bi.send
  let pumping = false
  const duplex: Duplex = new Duplex({
    read() {
      if (pumping) return
      pumping = true
      const pump = async () => {
        try {
          while (!duplex.destroyed) {
            const chunk = await recv.read(readSize)
            // iroh returns an empty read only at the peer's finish
            if (chunk.length === 0) {
              duplex.push(null)
              return
            }
            if (!duplex.push(Buffer.from(chunk))) return
          }
        } catch (error) {
          duplex.destroy(error instanceof Error ? error : new Error(String(error)))
        } finally {
          pumping = false
        }
      }
      void pump()
    },
    write(chunk: Buffer, _encoding, callback) {
      send.writeAll(Array.from(chunk)).then(() => callback(), (error: Error) => callback(error))
    },
    final(callback) {
      send.finish().then(() => callback(), (error: Error) => callback(error))
    },
    destroy(error, callback) {
      // reset/stop fail on a stream already finished or gone; nothing is left to release then
      if (!duplex.writableFinished) send.reset(0n).catch(() => undefined)
      if (!duplex.readableEnded) recv.stop(0n).catch(() => undefined)
      callback(error)
    }
  })
  return duplex
}

/**
 * Copies both ways (hey-proxy's contract): EOF on one side ends the other's writer, an error on
 * either tears both down. Completes once both sides are closed; interruption destroys both.
 */
export const splice = (a: Duplex, b: Duplex): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    let closed = 0
    const onClose = () => {
      closed += 1
      if (closed === 2) resume(Effect.void)
    }
    const onError = () => {
      a.destroy()
      b.destroy()
    }
    a.once("close", onClose)
    b.once("close", onClose)
    a.on("error", onError)
    b.on("error", onError)
    // half-close must travel: a socket that ends its writer at the peer's EOF would drop the reply
    a.allowHalfOpen = true
    b.allowHalfOpen = true
    a.pipe(b)
    b.pipe(a)
    return Effect.sync(() => {
      a.destroy()
      b.destroy()
    })
  })
