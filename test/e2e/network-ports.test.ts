/**
 * Bound URLs end to end: `open_ports` and `POST /proxy-endpoints/for-deployed`, served by heyod
 * at `http://<subdomain>.localhost:<port>/` by Host header (requests go to 127.0.0.1 with that
 * Host: Node does not resolve `*.localhost`), public and private, HTTP and an upgrade passing
 * through, to a server on port 8080 inside a real sandbox.
 */
import { assert, describe, it } from "@effect/vitest"
import { Commands, Network, Sandbox, Tunnel } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as http from "node:http"
import * as net from "node:net"
import { afterAll, beforeAll } from "vitest"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

const KEY = "network-ports-key"

/** Answers each request with the headers it saw, as JSON; an Upgrade gets 101 and an echo. */
const server = `
import json, socket, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8080))
s.listen(64)
def serve(c):
    data = b""
    while b"\\r\\n\\r\\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            c.close(); return
        data += chunk
    head, rest = data.split(b"\\r\\n\\r\\n", 1)
    lines = head.decode().split("\\r\\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    if "upgrade" in headers:
        c.sendall(b"HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: echo\\r\\nConnection: Upgrade\\r\\n\\r\\n" + rest)
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
        c.close(); return
    body = json.dumps({"method": method, "path": path, "host": headers.get("host"),
                       "authorization": headers.get("authorization"), "cookie": headers.get("cookie")}).encode()
    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: " + str(len(body)).encode() + b"\\r\\nConnection: close\\r\\n\\r\\n" + body)
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`

interface Reply {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
}

describe("bound URLs", () => {
  let heyod: Heyod.Heyod
  let sandboxId: string
  let subdomain: string
  const layer = () => SdkClient.layer(heyod)

  const get = (host: string, path: string, headers: Record<string, string> = {}) =>
    new Promise<Reply>((resolve, reject) => {
      const request = http.request({ host: "127.0.0.1", port: heyod.port, path, headers: { host, ...headers } }, (response) => {
        let text = ""
        response.setEncoding("utf8").on("data", (d: string) => (text += d))
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }))
      })
      request.on("error", reject)
      request.end()
    })

  const host = () => `${subdomain}.localhost:${heyod.port}`

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    sandboxId = await Effect.runPromise(
      Sandbox.create({
        name: "e2e-ports",
        openPorts: [8080],
        setupHooks: [`cat > /tmp/server.py <<'EOF'\n${server}\nEOF`],
        startCommand: "python3 /tmp/server.py"
      }).pipe(Effect.map((s) => s.id as string), Effect.provide(layer()))
    )
    subdomain = `${sandboxId}-8080`
  })
  afterAll(async () => {
    if (heyod === undefined) return
    await heyod.stop()
    assert.deepStrictEqual(Heyod.leftovers(heyod.dataDir), { mounts: [], netns: [], cgroups: [], processes: [], loops: [] })
  })

  it.live("open_ports are bound at create: SandboxInfo.urls and getHost", () =>
    Effect.gen(function*() {
      const info = yield* Sandbox.info(sandboxId)
      assert.deepStrictEqual(info.urls.map((u) => ({ ...u })), [{
        subdomain,
        hostname: `${subdomain}.localhost`,
        url: `http://${subdomain}.localhost:${heyod.port}`,
        port: 8080,
        isPublic: true
      }])
      assert.deepStrictEqual(yield* Network.getHost(sandboxId, 8080), Option.some(`http://${subdomain}.localhost:${heyod.port}`))
      assert.deepStrictEqual(yield* Network.getHost(sandboxId, 9090), Option.none())
    }).pipe(Effect.provide(layer())))

  it.live("a public URL serves the sandbox's port 8080 by Host header, no key needed", () =>
    Effect.promise(async () => {
      let reply: Reply = { status: 0, headers: {}, text: "" }
      for (let i = 0; i < 100; i++) {
        reply = await get(host(), "/hello?x=1")
        if (reply.status === 200) break
        await new Promise((r) => setTimeout(r, 100))
      }
      assert.strictEqual(reply.status, 200, reply.text)
      assert.deepStrictEqual(JSON.parse(reply.text), { method: "GET", path: "/hello?x=1", host: host(), authorization: null, cookie: null })
    }))

  it.live("a private URL refuses anonymous requests and accepts the key (header or login cookie), never passing it on", () =>
    Effect.gen(function*() {
      const bound = yield* Network.bindPort(sandboxId, 8080, { isPublic: false })
      assert.strictEqual(bound.subdomain, subdomain, "rebinding keeps the subdomain")
      assert.isFalse(bound.isPublic)
      yield* Effect.promise(async () => {
        const anonymous = await get(host(), "/private")
        assert.strictEqual(anonymous.status, 401)
        assert.include(anonymous.text, "/__heyo/login")
        const wrong = await get(host(), "/private", { authorization: "Bearer nope" })
        assert.strictEqual(wrong.status, 401)

        const withKey = await get(host(), "/private", { authorization: `Bearer ${KEY}` })
        assert.strictEqual(withKey.status, 200, withKey.text)
        assert.strictEqual(JSON.parse(withKey.text).authorization, null, "the API key never reaches the sandbox")

        const badLogin = await get(host(), `/__heyo/login?key=nope&next=/private`)
        assert.strictEqual(badLogin.status, 401)
        const login = await get(host(), `/__heyo/login?key=${KEY}&next=/private`)
        assert.strictEqual(login.status, 302)
        assert.strictEqual(login.headers.location, "/private")
        const cookie = String(login.headers["set-cookie"]?.[0]).split(";")[0]!
        assert.notInclude(cookie, KEY)
        const viaCookie = await get(host(), "/private", { cookie: `a=1; ${cookie}` })
        assert.strictEqual(viaCookie.status, 200, viaCookie.text)
        assert.strictEqual(JSON.parse(viaCookie.text).cookie, "a=1", "heyod's cookie is stripped, others pass")
        // no open redirect
        const away = await get(host(), `/__heyo/login?key=${KEY}&next=//evil.example/`)
        assert.strictEqual(away.headers.location, "/")
      })
      yield* Network.bindPort(sandboxId, 8080)
    }).pipe(Effect.provide(layer())))

  it.live("an upgrade passes through as raw bytes", () =>
    Effect.promise(async () => {
      const socket = net.connect({ host: "127.0.0.1", port: heyod.port })
      let received = ""
      socket.setEncoding("latin1").on("data", (d: string) => (received += d))
      await new Promise((r) => socket.once("connect", r))
      socket.write(`GET /ws HTTP/1.1\r\nHost: ${host()}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`)
      const until = async (text: string) => {
        for (let i = 0; i < 100 && !received.includes(text); i++) await new Promise((r) => setTimeout(r, 50))
        assert.include(received, text)
      }
      await until("101 Switching Protocols")
      socket.write("ping-through")
      await until("ping-through")
      socket.destroy()
    }))

  it.live("unknown subdomains are 404, a bound port nobody listens on is 502, the API refuses bad binds", () =>
    Effect.gen(function*() {
      const unknown = yield* Effect.promise(() => get(`sb-00000000-1.localhost:${heyod.port}`, "/"))
      assert.strictEqual(unknown.status, 404)
      const idle = yield* Network.bindPort(sandboxId, 9999)
      const reply = yield* Effect.promise(() => get(`${idle.subdomain}.localhost:${heyod.port}`, "/"))
      assert.strictEqual(reply.status, 502)
      const missing = yield* Effect.flip(Network.bindPort("sb-00000000", 8080))
      assert.strictEqual(missing._tag, "NotFound")
      const badPort = yield* Effect.flip(Network.bindPort(sandboxId, 70000))
      assert.strictEqual(badPort._tag, "InvalidArgument")
    }).pipe(Effect.provide(layer())))

  it.live("a heyod restart keeps policies, bound URLs and tunnel tickets, and re-attaches the egress proxy", () =>
    Effect.gen(function*() {
      const ticket = yield* Effect.gen(function*() {
        yield* Network.setPolicy(sandboxId, { rules: [Network.deny("*")] })
        yield* Network.bindPort(sandboxId, 8080, { isPublic: false })
        return yield* Tunnel.ticket(sandboxId, 8080, { transport: "ws" })
      }).pipe(Effect.provide(layer()))
      yield* Effect.promise(() => heyod.stop())
      heyod = yield* Effect.promise(() => Heyod.start({ apiKey: KEY, dataDir: heyod.dataDir }))
      yield* Effect.gen(function*() {
        yield* Sandbox.waitForReady(sandboxId)
        assert.deepStrictEqual(yield* Network.getPolicy(sandboxId), { rules: [{ domain: "*", action: "deny" }] })
        const out = yield* Commands.run(sandboxId, "curl -sS -o /dev/null -w '%{http_code}' http://example.com/")
        assert.strictEqual(out.stdout, "403", out.stderr)
        const info = yield* Sandbox.info(sandboxId)
        assert.deepStrictEqual(info.urls.map((u) => [u.port, u.isPublic]), [[8080, false], [9999, true]])
        assert.strictEqual(yield* Tunnel.ticket(sandboxId, 8080, { transport: "ws" }), ticket.replace(/:\d+\//, `:${heyod.port}/`))
        yield* Waiting.untilServing(() => get(host(), "/", { authorization: `Bearer ${KEY}` }))
      }).pipe(Effect.provide(layer()))
    }), { timeout: 90_000 })
})

const Waiting = {
  /** Polls until the start command's server answers 200 (it restarts with the sandbox). */
  untilServing: (request: () => Promise<Reply>) =>
    Effect.promise(async () => {
      let last: Reply | undefined
      for (let i = 0; i < 100; i++) {
        last = await request().catch(() => undefined)
        if (last?.status === 200) return
        await new Promise((r) => setTimeout(r, 100))
      }
      assert.fail(`not serving after the restart: ${JSON.stringify(last)}`)
    })
}
