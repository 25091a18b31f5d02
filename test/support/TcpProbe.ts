/**
 * Plain TCP clients for tests of tunnels and forwarded ports: each opens a fresh connection to
 * 127.0.0.1:<port>.
 */
import * as net from "node:net"

/** Sends `payload` and reads back as many bytes; fails if the far end closes first. */
export const echo = (port: number, payload: Buffer) =>
  new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    const chunks: Array<Buffer> = []
    let received = 0
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      received += chunk.length
      if (received >= payload.length) {
        socket.end()
        resolve(Buffer.concat(chunks))
      }
    })
    socket.on("error", reject)
    socket.on("close", () => received < payload.length && reject(new Error(`closed after ${received} bytes`)))
    socket.write(payload)
  })

/** Everything the far end sends until it closes, after sending `send` (and half-closing) if given. */
export const readUntilClose = (port: number, send?: Buffer) =>
  new Promise<Buffer>((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    const chunks: Array<Buffer> = []
    socket.on("data", (chunk: Buffer) => chunks.push(chunk))
    socket.on("error", () => undefined)
    socket.on("close", () => resolve(Buffer.concat(chunks)))
    if (send !== undefined) socket.end(send)
  })

/** True when nothing listens on the port any more. */
export const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(false)
    })
    socket.once("error", () => resolve(true))
  })
