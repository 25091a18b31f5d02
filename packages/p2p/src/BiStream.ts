/**
 * An iroh bidirectional stream as a Node Duplex, and the splice of two duplexes.
 *
 * @number0/iroh 1.1.0 takes and returns bytes as `Array<number>` (napi-rs `Vec<u8>`: napi calls per
 * byte each way; a Buffer is refused). That costs the JS thread about 50 ms per MiB sent and
 * 100 ms per MiB received, so a stream tops out near 10 MiB/s (bench/p2p-boundary.ts). What this
 * module can save is its own side of the copy: no `Array.from` (iterator protocol, a fresh
 * 512 KiB array per chunk) and no `Buffer.from(array)`.
 */
import type * as IrohTypes from "@number0/iroh/index.js"
import * as Effect from "effect/Effect"
import { Duplex } from "node:stream"

// read size barely matters (the cost is per byte); 64 KiB matches a TCP socket's reads
const readSize = 64 * 1024

/**
 * The one number array every write of a full piece reuses. napi-rs must copy a `Vec<u8>` argument
 * out of the array during the call (its handle dies with the call), and JS is single-threaded, so
 * refilling it for the next write, on any stream, cannot reach bytes already handed over.
 * Allocating the array per write costs more than the napi copy itself.
 */
const pieceSize = 64 * 1024
let piece: Array<number> | undefined

const toNumbers = (bytes: Buffer, start: number, length: number): Array<number> => {
  const numbers = length === pieceSize ? (piece ??= new Array<number>(pieceSize).fill(0)) : new Array<number>(length)
  for (let i = 0; i < length; i++) numbers[i] = bytes[start + i]!
  return numbers
}

const toBuffer = (numbers: Array<number>): Buffer => {
  // TypedArray#set copies a plain array in one builtin; Buffer.from(array) goes element by element
  const bytes = Buffer.allocUnsafe(numbers.length)
  bytes.set(numbers)
  return bytes
}

/**
 * Writes `bytes` in pieces, one `writeAll` at a time: two pending `writeAll`s on one stream are
 * polled by tokio in either order, and bytes do come out reordered (bench/p2p-boundary.ts).
 */
const writeBytes = async (send: IrohTypes.SendStream, bytes: Buffer, destroyed: () => boolean) => {
  for (let start = 0; start < bytes.length && !destroyed(); start += pieceSize) {
    await send.writeAll(toNumbers(bytes, start, Math.min(pieceSize, bytes.length - start)))
  }
}

export const toDuplex = (bi: IrohTypes.BiStream): Duplex => {
  const recv = bi.recv
  const send = bi.send
  let pumping = false
  const destroyed = () => duplex.destroyed
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
            if (!duplex.push(toBuffer(chunk))) return
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
      writeBytes(send, chunk, destroyed).then(() => callback(), (error: Error) => callback(error))
    },
    // chunks queued while a write was in flight go out as full pieces (the reused array)
    writev(chunks, callback) {
      const bytes = chunks.length === 1 ? chunks[0]!.chunk as Buffer : Buffer.concat(chunks.map(({ chunk }) => chunk as Buffer))
      writeBytes(send, bytes, destroyed).then(() => callback(), (error: Error) => callback(error))
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
