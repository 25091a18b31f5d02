/**
 * Egress end to end: a real sandbox whose only way out is heyod's proxy. The upstreams are
 * loopback test servers (HTTP and HTTPS with a throwaway self-signed certificate), reached by
 * name through heyod's `--egress-test-hosts` resolver; nothing leaves loopback and the sandbox's
 * own namespace. heyod's log lists every lookup, which is how the tests check nothing else was
 * resolved.
 */
import { assert, describe, it } from "@effect/vitest"
import { Commands, Network, Sandbox } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import type * as net from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

const KEY = "network-egress-key"
const testNames = ["allowed.test", "denied.test", "slow.test"]

interface Upstream {
  readonly port: number
  readonly tlsPort: number
  /** Sockets of `/hold` requests still open on the server side. */
  readonly held: Set<net.Socket>
  readonly seen: Array<string>
  readonly close: () => Promise<void>
}

const startUpstream = async (dir: string): Promise<Upstream> => {
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=allowed.test", "-days", "1",
    "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")
  ], { stdio: "ignore" })
  const held = new Set<net.Socket>()
  const seen: Array<string> = []
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push(`${req.headers.host} ${req.url}`)
    if (req.url === "/hold") {
      held.add(req.socket)
      req.socket.once("close", () => held.delete(req.socket))
      res.writeHead(200, { "content-type": "text/plain" })
      res.write("started\n")
      return
    }
    res.writeHead(200, { "content-type": "text/plain" })
    res.end(`hello ${req.headers.host} ${req.url}\n`)
  }
  const plain = http.createServer(handler)
  const tls = https.createServer({
    key: fs.readFileSync(path.join(dir, "key.pem")),
    cert: fs.readFileSync(path.join(dir, "cert.pem"))
  }, handler)
  const listen = (server: http.Server) =>
    new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)))
  const port = await listen(plain)
  const tlsPort = await listen(tls)
  return {
    port,
    tlsPort,
    held,
    seen,
    close: async () => {
      for (const socket of held) socket.destroy()
      plain.closeAllConnections()
      tls.closeAllConnections()
      await Promise.all([new Promise((r) => plain.close(r)), new Promise((r) => tls.close(r))])
    }
  }
}

describe("egress through heyod's proxy", () => {
  let heyod: Heyod.Heyod
  let upstream: Upstream
  let sandboxId: string
  const layer = () => SdkClient.layer(heyod)

  const run = (command: string) =>
    Effect.runPromise(Commands.run(sandboxId, command).pipe(Effect.provide(layer())))

  const api = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${heyod.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, text, json: text === "" ? undefined : JSON.parse(text) as unknown }
  }

  const setPolicy = async (rules: ReadonlyArray<unknown>) => {
    const response = await api("POST", `/v1/sprites/${sandboxId}/policy/network`, { rules })
    assert.strictEqual(response.status, 204, response.text)
    assert.strictEqual(response.text, "")
  }

  /** The names heyod looked up so far, in order. */
  const lookups = () => [...heyod.logs().matchAll(/lookup (\S+) (?:->|failed)/g)].map((m) => m[1]!)

  const curl = (args: string) => run(`curl -sS --max-time 10 ${args}`)

  beforeAll(async () => {
    const dir = Heyod.makeTempDir("egress-upstream-")
    upstream = await startUpstream(dir)
    heyod = await Heyod.start({
      apiKey: KEY,
      args: ["--egress-test-hosts", testNames.map((name) => `${name}=127.0.0.1`).join(",")]
    })
    sandboxId = await Effect.runPromise(
      Sandbox.create({ name: "e2e-egress" }).pipe(Effect.map((s) => s.id as string), Effect.provide(layer()))
    )
  })
  afterAll(async () => {
    if (heyod !== undefined) {
      await heyod.stop()
      const left = Heyod.leftovers(heyod.dataDir)
      assert.deepStrictEqual(left, { mounts: [], netns: [], cgroups: [], processes: [], loops: [] })
    }
    await upstream?.close()
  })

  it.live("every command has the proxy variables, both cases, and no_proxy for loopback", () =>
    Effect.promise(async () => {
      const out = await run("env | grep -i _proxy= | sort")
      assert.strictEqual(out.exitCode, 0, out.stderr)
      const env = Object.fromEntries(out.stdout.trim().split("\n").map((line) => line.split("=", 2) as [string, string]))
      for (const name of ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"]) {
        assert.strictEqual(env[name], "http://127.0.0.1:3128", name)
      }
      assert.strictEqual(env["no_proxy"], "localhost,127.0.0.1")
      assert.strictEqual(env["NO_PROXY"], "localhost,127.0.0.1")
    }))

  it.live("with no rules, egress is open: HTTP and HTTPS (CONNECT) reach the upstream by name", () =>
    Effect.promise(async () => {
      const plain = await curl(`http://allowed.test:${upstream.port}/a`)
      assert.strictEqual(plain.exitCode, 0, plain.stderr)
      assert.strictEqual(plain.stdout, `hello allowed.test:${upstream.port} /a\n`)
      const tls = await curl(`-k https://allowed.test:${upstream.tlsPort}/b`)
      assert.strictEqual(tls.exitCode, 0, tls.stderr)
      assert.strictEqual(tls.stdout, `hello allowed.test:${upstream.tlsPort} /b\n`)
      const policy = await api("GET", `/v1/sprites/${sandboxId}/policy/network`)
      assert.deepStrictEqual(policy.json, { rules: [] })
    }))

  it.live("no way out but the proxy: direct connections fail, IP literals and private ranges are refused", () =>
    Effect.promise(async () => {
      // the host's loopback server is not the sandbox's loopback
      const direct = await curl(`--noproxy '*' http://127.0.0.1:${upstream.port}/`)
      assert.strictEqual(direct.exitCode, 7, direct.stderr)
      // no route at all: fails at once, nothing is sent
      const routed = await curl(`--noproxy '*' http://10.1.2.3:80/`)
      assert.strictEqual(routed.exitCode, 7, routed.stderr)
      const seenBefore = upstream.seen.length
      for (const target of [`127.0.0.1:${upstream.port}`, "10.1.2.3:80", "169.254.169.254:80", "[::1]:80"]) {
        const out = await curl(`--noproxy '' -x http://127.0.0.1:3128 -w '%{http_code}' http://${target}/`)
        assert.match(out.stdout, /"error":"egress_address_refused"/, target)
        assert.isTrue(out.stdout.endsWith("403"), `${target}: ${out.stdout}`)
      }
      const connect = await curl(`-k https://127.0.0.1:${upstream.tlsPort}/ --noproxy '' -x http://127.0.0.1:3128`)
      assert.notStrictEqual(connect.exitCode, 0)
      assert.match(connect.stderr, /403/)
      assert.strictEqual(upstream.seen.length, seenBefore, "no request reached the upstream")
    }))

  it.live("allow one name, deny '*': allowed passes, denied gets 403 naming the rule, never looked up", () =>
    Effect.promise(async () => {
      await setPolicy([{ domain: "allowed.test", action: "allow" }, { domain: "*", action: "deny" }])
      const got = await api("GET", `/v1/sprites/${sandboxId}/policy/network`)
      assert.deepStrictEqual(got.json, {
        rules: [{ domain: "allowed.test", action: "allow" }, { domain: "*", action: "deny" }]
      })
      const inside = await run("cat /.sprite/policy/network.json")
      assert.deepStrictEqual(JSON.parse(inside.stdout), got.json)

      const ok = await curl(`http://allowed.test:${upstream.port}/ok`)
      assert.strictEqual(ok.stdout, `hello allowed.test:${upstream.port} /ok\n`)
      const okTls = await curl(`-k https://allowed.test:${upstream.tlsPort}/ok`)
      assert.strictEqual(okTls.stdout, `hello allowed.test:${upstream.tlsPort} /ok\n`)

      const before = lookups().length
      const denied = await curl(`-w '%{http_code}' http://denied.test:${upstream.port}/x`)
      assert.isTrue(denied.stdout.endsWith("403"), denied.stdout)
      const body = JSON.parse(denied.stdout.slice(0, -3)) as { error: string; message: string; rule: unknown }
      assert.strictEqual(body.error, "egress_denied")
      assert.deepStrictEqual(body.rule, { domain: "*", action: "deny" })
      assert.include(body.message, `{"domain":"*","action":"deny"}`)
      const deniedTls = await curl(`-k https://denied.test:${upstream.tlsPort}/x`)
      assert.notStrictEqual(deniedTls.exitCode, 0)
      assert.match(deniedTls.stderr, /403/)
      const other = await curl(`-o /dev/null -w '%{http_code}' http://example.com/`)
      assert.strictEqual(other.stdout, "403")
      assert.deepStrictEqual(lookups().slice(before), [], "a denied name is never resolved")
      // every lookup heyod ever made was one of the test names
      for (const name of lookups()) assert.include(testNames, name)
    }))

  it.live("a live policy change cuts an open connection to a newly denied name", () =>
    Effect.promise(async () => {
      await setPolicy([])
      const running = run(`curl -sS -N --max-time 20 http://slow.test:${upstream.port}/hold; echo "rc=$?"`)
      const deadline = Date.now() + 10_000
      while (upstream.held.size === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      assert.strictEqual(upstream.held.size, 1, "the long poll reached the upstream")
      const cutAt = Date.now()
      await setPolicy([{ domain: "slow.test", action: "deny" }])
      const out = await running
      assert.isBelow(Date.now() - cutAt, 5_000, "cut at once, not at curl's timeout")
      assert.include(out.stdout, "started")
      assert.match(out.stdout, /rc=(18|56|52)/, out.stdout + out.stderr)
      const afterDeadline = Date.now() + 2_000
      while (upstream.held.size > 0 && Date.now() < afterDeadline) await new Promise((r) => setTimeout(r, 50))
      assert.strictEqual(upstream.held.size, 0, "the upstream side was closed too")
      // allowed names keep working under the same policy
      const still = await curl(`http://allowed.test:${upstream.port}/still`)
      assert.strictEqual(still.stdout, `hello allowed.test:${upstream.port} /still\n`)
    }))

  it.live("{rules: []} lifts enforcement", () =>
    Effect.promise(async () => {
      await setPolicy([{ domain: "*", action: "deny" }])
      const denied = await curl(`-o /dev/null -w '%{http_code}' http://denied.test:${upstream.port}/`)
      assert.strictEqual(denied.stdout, "403")
      await setPolicy([])
      const open = await curl(`http://denied.test:${upstream.port}/open`)
      assert.strictEqual(open.stdout, `hello denied.test:${upstream.port} /open\n`)
      const inside = await run("cat /.sprite/policy/network.json")
      assert.deepStrictEqual(JSON.parse(inside.stdout), { rules: [] })
    }))

  it.live("a name the test resolver does not know fails without a lookup elsewhere", () =>
    Effect.promise(async () => {
      const out = await curl(`-w '%{http_code}' http://unknown.test/`)
      assert.isTrue(out.stdout.endsWith("502"), out.stdout)
      assert.match(out.stdout, /not found \(test hosts map\)/)
    }))

  it.live("SDK: Sandbox.create({networkPolicy}), Network.getPolicy/setPolicy, invalid rules refused before any call", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.create({
        name: "e2e-egress-sdk",
        networkPolicy: { rules: [Network.allow("allowed.test"), Network.deny("*")] }
      })
      assert.deepStrictEqual(yield* Network.getPolicy(sandbox.id), {
        rules: [{ domain: "allowed.test", action: "allow" }, { domain: "*", action: "deny" }]
      })
      const denied = yield* Commands.run(sandbox.id, `curl -sS -o /dev/null -w '%{http_code}' http://denied.test:${upstream.port}/`)
      assert.strictEqual(denied.stdout, "403")
      yield* Network.setPolicy(sandbox.id, { rules: [Network.includeDefaults, Network.allow("*.test")] })
      assert.deepStrictEqual(yield* Network.getPolicy(sandbox.id), { rules: [{ include: "defaults" }, { domain: "*.test", action: "allow" }] })
      const open = yield* Commands.run(sandbox.id, `curl -sS http://denied.test:${upstream.port}/sdk`)
      assert.strictEqual(open.stdout, `hello denied.test:${upstream.port} /sdk\n`)
      const invalid = yield* Effect.flip(Network.setPolicy(sandbox.id, { rules: [Network.allow("not a host")] }))
      assert.strictEqual(invalid._tag, "InvalidArgument")
      assert.include(invalid.message, "not a host")
      const missing = yield* Effect.flip(Network.getPolicy("sb-00000000"))
      assert.strictEqual(missing._tag, "NotFound")
      yield* Sandbox.kill(sandbox.id)
    }).pipe(Effect.provide(layer())))

  it.live("Heyo create body: network_policy sets the initial policy; an invalid one is a 400", () =>
    Effect.promise(async () => {
      const created = await api("POST", "/sandbox-deploy", {
        name: "e2e-egress-initial",
        network_policy: { rules: [{ include: "defaults" }, { domain: "*", action: "deny" }] }
      })
      assert.strictEqual(created.status, 202, created.text)
      const id = (created.json as { id: string }).id
      const policy = await api("GET", `/v1/sprites/${id}/policy/network`)
      assert.deepStrictEqual(policy.json, { rules: [{ include: "defaults" }, { domain: "*", action: "deny" }] })
      const bad = await api("POST", "/sandbox-deploy", {
        name: "e2e-egress-bad",
        network_policy: { rules: [{ domain: "a b", action: "allow" }] }
      })
      assert.strictEqual(bad.status, 400, bad.text)
      assert.include(bad.text, "network_policy")
      assert.strictEqual((await api("DELETE", `/deployed-sandboxes/${id}`)).status, 204)
    }))
})
