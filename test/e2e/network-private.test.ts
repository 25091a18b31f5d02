/**
 * Private networks end to end (reference/heyo-api.md §2.7, heyod's mechanism in
 * packages/server/src/network/Networks.ts): two member sandboxes, one offering a registered
 * service `db:5432`, the other reaching it by name with plain TCP from inside, no proxy settings;
 * a third sandbox outside the network cannot; leaving the network cuts the way.
 */
import { Network, Tunnel } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Heyod from "../support/Heyod.js"
import { startPythonServer } from "../support/SandboxServer.js"
import * as SdkClient from "./SdkClient.js"
import { Client, exec, expectJson, expectStatus, Sandboxes, show, stopAndCheck } from "../conformance/Wire.js"

const KEY = "network-private-key"

const server = `
import socket, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5432))
s.listen(64)
def serve(c):
    c.sendall(b"hello from db\\n")
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`

/** Connects to db:5432 by name, sends a line, prints what came back; exit 0 only on the echo. */
const probe = `python3 -c "
import socket, sys
try:
    s = socket.create_connection(('db', 5432), timeout=5)
    s.sendall(b'ping\\n')
    data = b''
    while data.count(b'\\n') < 2:
        chunk = s.recv(100)
        if not chunk:
            break
        data += chunk
    sys.stdout.write(data.decode())
    sys.exit(0 if data == b'hello from db\\nping\\n' else 3)
except Exception as e:
    sys.stdout.write(type(e).__name__ + ': ' + str(e))
    sys.exit(2)
"`

describe("private networks between sandboxes", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let sandboxes: Sandboxes
  let db: string
  let app: string
  let outsider: string
  let networkId: string

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    client = new Client(heyod.url, KEY)
    sandboxes = new Sandboxes(client)
    ;[db, app, outsider] = await Promise.all([
      sandboxes.running({ name: "net-db", size_class: "micro" }),
      sandboxes.running({ name: "net-app", size_class: "micro" }),
      sandboxes.running({ name: "net-outsider", size_class: "micro" })
    ])
    await startPythonServer(async (command) => ({ exitCode: (await exec(client, db, command)).exit_code }), "db", server, 5432)
    networkId = String(expectJson(await client.get("/networks/me"), 200)["id"])
    for (const member of [db, app]) {
      expectJson(await client.post(`/networks/${networkId}/members`, { sandbox_kind: "local", sandbox_ref: member }), 200)
    }
    const registered = await client.post("/networks/me/services", { name: "db", sandbox_kind: "local", sandbox_ref: db, port: 5432 })
    expect(expectJson(registered, 200)["status"], show(registered)).toBe("active")
  }, 120_000)
  afterAll(async () => {
    if (heyod === undefined) return
    await sandboxes.killAll()
    await stopAndCheck(heyod)
  })

  it("a member reaches the other member's service by name with plain TCP, no proxy settings", async () => {
    const resolved = await exec(client, app, "getent hosts db")
    expect(resolved.stdout, resolved.stderr).toMatch(/^127\.77\.\d+\.\d+\s+db$/m)
    const reached = await exec(client, app, `env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY ${probe}`)
    expect(reached.exit_code, reached.stdout + reached.stderr).toBe(0)
    expect(reached.stdout).toBe("hello from db\nping\n")
    // netcat, as a user would type it: sends, shuts its side down, still reads the answer
    // nc comes with the host image (scripts/setup.sh installs netcat-openbsd)
    const nc = await exec(client, app, "printf 'ping\\n' | nc -q 2 -w 5 db 5432")
    expect(nc.stdout, `exit ${nc.exit_code}: ${nc.stderr}`).toBe("hello from db\nping\n")
  })

  it("the service's own sandbox reaches it by name too (on 127.0.0.1, its wildcard listener untouched)", async () => {
    const resolved = await exec(client, db, "getent hosts db")
    expect(resolved.stdout, resolved.stderr).toMatch(/^127\.0\.0\.1\s+db$/m)
    const reached = await exec(client, db, probe)
    expect(reached.exit_code, reached.stdout + reached.stderr).toBe(0)
  })

  it("a sandbox outside the network can neither resolve nor reach the service", async () => {
    const resolved = await exec(client, outsider, "getent hosts db")
    expect(resolved.exit_code).not.toBe(0)
    const byName = await exec(client, outsider, probe)
    expect(byName.exit_code, byName.stdout).toBe(2)
    // the address members use is not open in the outsider's namespace either
    const address = (await exec(client, app, "getent hosts db")).stdout.split(/\s+/)[0]!
    const byAddress = await exec(client, outsider,
      `python3 -c "import socket; socket.create_connection(('${address}', 5432), timeout=3)"`)
    expect(byAddress.exit_code, byAddress.stderr).not.toBe(0)
  })

  it("leaving the network cuts the way; joining again restores it", async () => {
    expectStatus(await client.delete(`/networks/${networkId}/members/local/${app}`), 204)
    const cut = await exec(client, app, probe)
    expect(cut.exit_code, cut.stdout).toBe(2)
    expectJson(await client.post(`/networks/${networkId}/members`, { sandbox_kind: "local", sandbox_ref: app }), 200)
    const back = await exec(client, app, probe)
    expect(back.exit_code, back.stdout + back.stderr).toBe(0)
  })

  it("SDK: the registry as the Network service sees it; dialService's ticket reaches the service with Tunnel.connect", async () => {
    const program = Effect.gen(function*() {
      const network = yield* Network.defaultNetwork
      const members = yield* Effect.flatMap(Network.Network, (n) => n.listMembers(network.id))
      const services = yield* Network.listServices
      const route = yield* Network.dialService("db", 5432)
      const wsRoute = yield* Network.dialService("db", 5432, { transport: "ws" })
      const greet = (ticket: string) => Effect.scoped(Effect.gen(function*() {
        const tunnel = yield* Tunnel.connect(ticket)
        return yield* Effect.promise(() =>
          new Promise<string>((resolve, reject) => {
            const socket = net.connect({ host: "127.0.0.1", port: tunnel.localPort })
            // the client speaks first: over iroh, a stream reaches heyod with its first byte
            socket.write("ping\n")
            let got = ""
            socket.on("data", (chunk) => {
              got += chunk.toString()
              if (got.includes("ping\n")) {
                socket.destroy()
                resolve(got)
              }
            })
            socket.on("error", reject)
          })
        )
      }))
      return { network, members, services, route, greeting: yield* greet(route.connectionUrl), wsRoute, wsGreeting: yield* greet(wsRoute.connectionUrl) }
    })
    const result = await Effect.runPromise(program.pipe(Effect.provide(SdkClient.layer(heyod))))
    expect(result.network.isDefault).toBe(true)
    expect(result.members.map((m) => m.sandboxRef).sort()).toEqual([db, app].sort())
    expect(result.services.map((s) => [s.address, s.status, s.transport])).toEqual([["db:5432", "active", "iroh_tcp_proxy"]])
    expect(result.route.address).toBe("db:5432")
    expect(result.route.transport).toBe("iroh_tcp_proxy")
    expect(result.route.connectionUrl.startsWith("heyo://")).toBe(true)
    expect(result.greeting).toBe("hello from db\nping\n")
    expect(result.wsRoute.transport).toBe("ws_tcp_proxy")
    expect(result.wsGreeting).toBe("hello from db\nping\n")
  })

  it("the service's sandbox stopped: dial answers 409, and a restart brings the route back", async () => {
    const live = expectJson(await client.get("/networks/me/services/db/5432/dial"), 200)
    expect(live["transport"]).toBe("iroh_tcp_proxy")
    expectStatus(await client.post(`/sandbox/${db}/stop`), 200)
    await sandboxes.waitFor(db, ["stopped"])
    const refused = await client.get("/networks/me/services/db/5432/dial")
    expect(refused.status, show(refused)).toBe(409)
    const down = await exec(client, app, probe)
    expect(down.exit_code, down.stdout).not.toBe(0)
  })

  it("a member restarted gets its hosts entries and listeners again", async () => {
    expectStatus(await client.post(`/sandbox/${app}/stop`), 200)
    await sandboxes.waitFor(app, ["stopped"])
    expectStatus(await client.post(`/sandbox/${app}/start`), 200)
    await sandboxes.waitFor(app, ["running"])
    const resolved = await exec(client, app, "getent hosts db")
    expect(resolved.stdout, resolved.stderr).toMatch(/^127\.77\.\d+\.\d+\s+db$/m)
  })

  it("dial tickets are the registration's own: a tcp-tunnel revoke leaves them, removing the service revokes them", async () => {
    const info = expectJson(await client.get(`/deployed-sandboxes/${db}`), 200)
    if (info["status"] !== "running") {
      expectStatus(await client.post(`/sandbox/${db}/start`), 200)
      await sandboxes.waitFor(db, ["running"])
    }
    const program = Effect.gen(function*() {
      const route = yield* Network.dialService("db", 5432)
      const portTicket = yield* Tunnel.ticket(db, 5432)
      expect(route.connectionUrl).not.toBe(portTicket)
      yield* Tunnel.revoke(db, 5432)
      const still = yield* Effect.scoped(Effect.map(Tunnel.connect(route.connectionUrl), () => "connected"))
      yield* Network.removeService("db", 5432)
      const refused = yield* Effect.flip(Effect.scoped(Tunnel.connect(route.connectionUrl)))
      return { still, refused: refused._tag }
    })
    const result = await Effect.runPromise(program.pipe(Effect.provide(SdkClient.layer(heyod, { timeout: "2 seconds" }))))
    expect(result).toEqual({ still: "connected", refused: "Connection" })
  })
})
