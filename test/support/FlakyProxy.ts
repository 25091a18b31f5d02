/**
 * A loopback TCP proxy in front of heyod that can cut every connection through it at once: a
 * network blip, seen by both ends as a dropped connection, without touching either.
 */
import * as net from "node:net"

export interface FlakyProxy {
  readonly url: string
  /** Destroys every open connection (both sides); new ones are accepted as before. */
  readonly cutAll: () => number
  readonly close: () => Promise<void>
}

export const start = (targetPort: number): Promise<FlakyProxy> =>
  new Promise((resolve, reject) => {
    const open = new Set<net.Socket>()
    const server = net.createServer((client) => {
      const upstream = net.connect(targetPort, "127.0.0.1")
      open.add(client)
      open.add(upstream)
      const drop = () => {
        client.destroy()
        upstream.destroy()
        open.delete(client)
        open.delete(upstream)
      }
      client.on("error", drop).on("close", drop)
      upstream.on("error", drop).on("close", drop)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        cutAll: () => {
          const sockets = [...open]
          for (const socket of sockets) socket.destroy()
          open.clear()
          return sockets.length / 2
        },
        close: () =>
          new Promise((done) => {
            for (const socket of open) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })
