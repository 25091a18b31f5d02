/**
 * Loopback TCP measurements shared by the network and P2P benches.
 */
import * as net from "node:net"
import { clock } from "./Measure.js"

/** A port nothing listens on right now. */
export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/**
 * Reads a whole source connection, which must deliver exactly `bytes`; milliseconds. `opener` is
 * sent first: a QUIC stream reaches its peer only with the client's first byte.
 */
export const drain = (port: number, bytes: number, opener?: Uint8Array) =>
  new Promise<number>((resolve, reject) => {
    const started = clock()
    let got = 0
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.on("data", (d: Buffer) => (got += d.length))
    socket.on("error", reject)
    if (opener !== undefined) socket.write(opener)
    socket.on("close", () => (got === bytes ? resolve(clock() - started) : reject(new Error(`got ${got} of ${bytes} bytes`))))
  })

/** Connect until the server's first byte; milliseconds. */
export const hello = (port: number, opener?: Uint8Array) =>
  new Promise<number>((resolve, reject) => {
    const started = clock()
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("data", () => {
      resolve(clock() - started)
      socket.destroy()
    })
    socket.on("error", reject)
    if (opener !== undefined) socket.write(opener)
  })
