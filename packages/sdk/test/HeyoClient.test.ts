import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Commands from "../src/Commands.js"
import * as HeyoClient from "../src/HeyoClient.js"
import * as HeyoError from "../src/HeyoError.js"
import * as Sandbox from "../src/Sandbox.js"
import { info, KEY, mockHttp, type Reply, sdk } from "./utils/mockHttp.js"

const running = (id = "sb-1") => ({ json: info(id, "running") })

describe("HeyoClient requests", () => {
  it.effect("sends the bearer, Accept JSON, and percent-encoded paths under a trimmed base URL", () => {
    const { layer, requests } = sdk(() => running("a/b c"))
    return Effect.gen(function*() {
      yield* Sandbox.info("a/b c")
      const [request] = requests
      assert.strictEqual(request?.method, "GET")
      assert.strictEqual(request?.path, "/deployed-sandboxes/a%2Fb%20c")
      assert.strictEqual(request?.headers["authorization"], `Bearer ${KEY}`)
      assert.strictEqual(request?.headers["accept"], "application/json")
    }).pipe(Effect.provide(layer))
  })

  it.effect("sends no Authorization header for an empty key", () => {
    const { layer, requests } = sdk(() => running(), { apiKey: Redacted.make("") })
    return Effect.gen(function*() {
      yield* Sandbox.info("sb-1")
      assert.isUndefined(requests[0]?.headers["authorization"])
    }).pipe(Effect.provide(layer))
  })

  const withEnv = ConfigProvider.fromMap(new Map([["HEYO_API_KEY", "from-env"], ["HEYO_BASE_URL", "http://env.test/"]]))
  const urlOf = (client: Layer.Layer<HeyoClient.HeyoClient, unknown, never>) =>
    Effect.gen(function*() {
      const c = yield* HeyoClient.HeyoClient
      yield* c.execute({ method: "GET", path: "/health" })
      return c.baseUrl
    }).pipe(Effect.provide(client))

  it.effect("layerConfig reads HEYO_API_KEY and HEYO_BASE_URL", () => {
    const http = mockHttp(() => ({ json: { status: "ok" } }))
    return Effect.gen(function*() {
      const baseUrl = yield* urlOf(HeyoClient.layerConfig.pipe(Layer.provide(http.layer)))
      assert.strictEqual(baseUrl, "http://env.test")
      assert.strictEqual(http.requests[0]?.headers["authorization"], "Bearer from-env")
    }).pipe(Effect.withConfigProvider(withEnv))
  })

  it.effect("layerConfig defaults to the Heyo cloud with no key", () => {
    const http = mockHttp(() => ({ json: { status: "ok" } }))
    return Effect.gen(function*() {
      const baseUrl = yield* urlOf(HeyoClient.layerConfig.pipe(Layer.provide(http.layer)))
      assert.strictEqual(baseUrl, "https://server.heyo.computer")
      assert.isUndefined(http.requests[0]?.headers["authorization"])
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
  })

  it.effect("layerLocal talks to 127.0.0.1:34099 and never reads HEYO_API_KEY", () => {
    const http = mockHttp(() => ({ json: { status: "ok" } }))
    const before = process.env.HEYO_API_KEY
    process.env.HEYO_API_KEY = "from-process-env"
    return Effect.gen(function*() {
      const baseUrl = yield* urlOf(HeyoClient.layerLocal().pipe(Layer.provide(http.layer)))
      assert.strictEqual(baseUrl, "http://127.0.0.1:34099")
      assert.isUndefined(http.requests[0]?.headers["authorization"])
    }).pipe(
      Effect.withConfigProvider(withEnv),
      Effect.ensuring(Effect.sync(() => {
        if (before === undefined) delete process.env.HEYO_API_KEY
        else process.env.HEYO_API_KEY = before
      }))
    )
  })
})

describe("HeyoClient error mapping", () => {
  const exec = (reply: Reply) => {
    const { layer } = sdk(() => reply)
    return Commands.run("sb-1", "true").pipe(Effect.flip, Effect.provide(layer))
  }
  const at = "(calling POST /sandbox/sb-1/exec)"

  it.effect("400 and 422 are InvalidArgument", () =>
    Effect.gen(function*() {
      const e400 = yield* exec({ status: 400, json: { message: "bad command" } })
      assert.deepStrictEqual([e400._tag, e400.message], ["InvalidArgument", `bad command ${at}`])
      const e422 = yield* exec({ status: 422, json: { error: "invalid env" } })
      assert.deepStrictEqual([e422._tag, e422.message], ["InvalidArgument", `invalid env ${at}`])
    }))

  it.effect("401 and 403 are Authentication", () =>
    Effect.gen(function*() {
      const e401 = yield* exec({ status: 401, text: "token expired" })
      assert.deepStrictEqual([e401._tag, e401.message], ["Authentication", `token expired ${at}`])
      const e403 = yield* exec({ status: 403 })
      assert.deepStrictEqual([e403._tag, e403.message], ["Authentication", `403 Forbidden ${at}`])
    }))

  it.effect("404 is NotFound", () =>
    Effect.gen(function*() {
      const e = yield* exec({ status: 404, json: { message: "sandbox not found" } })
      assert.deepStrictEqual([e._tag, e.message], ["NotFound", `sandbox not found ${at}`])
    }))

  it.effect("409, 413, 500 and 503 are Api with status and body", () =>
    Effect.gen(function*() {
      for (const status of [409, 413, 500, 503]) {
        const e = yield* exec({ status, json: { message: `nope ${status}`, detail: 1 } })
        assert.strictEqual(e._tag, "Api")
        if (e._tag === "Api") {
          assert.strictEqual(e.status, status)
          assert.strictEqual(e.message, `nope ${status} ${at}`)
          assert.deepStrictEqual(e.body, { message: `nope ${status}`, detail: 1 })
        }
      }
    }))

  it.effect("429 is RateLimited with Retry-After", () =>
    Effect.gen(function*() {
      const e = yield* exec({ status: 429, json: { message: "slow down" }, headers: { "retry-after": "7" } })
      assert.strictEqual(e._tag, "RateLimited")
      if (e._tag === "RateLimited") assert.deepStrictEqual(e.retryAfter, Option.some(Duration.seconds(7)))
      const none = yield* exec({ status: 429 })
      if (none._tag === "RateLimited") assert.deepStrictEqual(none.retryAfter, Option.none())
      const date = yield* exec({ status: 429, headers: { "retry-after": new Date(30_000).toUTCString() } })
      if (date._tag === "RateLimited") assert.deepStrictEqual(date.retryAfter, Option.some(Duration.seconds(30)))
    }))

  it.effect("a transport failure is Connection, with the cause in the message", () =>
    Effect.gen(function*() {
      const e = yield* exec("transport-error")
      assert.strictEqual(e._tag, "Connection")
      assert.include(e.message, "ECONNREFUSED")
      assert.include(e.message, at)
    }))

  it.effect("a 2xx body that does not decode is Api with its status", () =>
    Effect.gen(function*() {
      const notJson = yield* exec({ status: 200, text: "<html>" })
      assert.strictEqual(notJson._tag, "Api")
      if (notJson._tag === "Api") assert.strictEqual(notJson.status, 200)
      assert.include(notJson.message, "not JSON")
      const wrongShape = yield* exec({ status: 200, json: { exit_code: "zero" } })
      assert.strictEqual(wrongShape._tag, "Api")
      assert.include(wrongShape.message, "exit_code")
    }))

  it.effect("no platform error ever leaks: every failure is a HeyoError", () =>
    Effect.gen(function*() {
      for (const reply of ["transport-error", { status: 502 }, { text: "{" }] as const) {
        assert.isTrue(HeyoError.isHeyoError(yield* exec(reply)))
      }
    }))
})

describe("HeyoClient deadlines and retries", () => {
  it.effect("no response within the timeout (default 60 s) is Timeout", () => {
    const { layer } = sdk(() => "hang")
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Sandbox.info("sb-1"))
      yield* TestClock.adjust("59 seconds")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 second")
      const e = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(e._tag, "Timeout")
      assert.include(e.message, "after 1m (calling GET /deployed-sandboxes/sb-1)")
    }).pipe(Effect.provide(layer))
  })

  it.effect("a command's timeout overrides the client timeout for that call only", () => {
    const { layer } = sdk(() => "hang", { timeout: "10 minutes" })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Commands.run("sb-1", "sleep 100", { timeout: "5 seconds" }))
      yield* TestClock.adjust("5 seconds")
      const e = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(e._tag, "Timeout")
      if (e._tag === "Timeout") assert.isTrue(Duration.equals(e.timeout, Duration.seconds(5)))
    }).pipe(Effect.provide(layer))
  })

  it.effect("GET retries a 503 and a transport failure, then succeeds", () => {
    const replies: Array<Reply> = [{ status: 503 }, "transport-error", running()]
    const { layer, requests } = sdk(() => replies.shift()!)
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Sandbox.info("sb-1"))
      yield* TestClock.adjust("10 seconds")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.status, "running")
      assert.strictEqual(requests.length, 3)
    }).pipe(Effect.provide(layer))
  })

  it.effect("GET retries are bounded", () => {
    const { layer, requests } = sdk(() => "transport-error")
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Sandbox.info("sb-1"))
      yield* TestClock.adjust("1 minute")
      const e = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(e._tag, "Connection")
      assert.strictEqual(requests.length, 4)
    }).pipe(Effect.provide(layer))
  })

  it.effect("create and exec are never retried", () => {
    const { layer, requests } = sdk(() => ({ status: 503 }))
    return Effect.gen(function*() {
      yield* Effect.flip(Sandbox.create({ waitForReady: 0 }))
      yield* Effect.flip(Commands.run("sb-1", "echo"))
      assert.deepStrictEqual(requests.map((r) => r.path), ["/sandbox-deploy", "/sandbox/sb-1/exec"])
    }).pipe(Effect.provide(layer))
  })

  it.effect("other 4xx and 5xx are not retried", () => {
    const { layer, requests } = sdk(() => ({ status: 500 }))
    return Effect.gen(function*() {
      yield* Effect.flip(Sandbox.info("sb-1"))
      assert.strictEqual(requests.length, 1)
    }).pipe(Effect.provide(layer))
  })

  it.live("a streamed body gets an idle timeout, not a total one", () =>
    Effect.gen(function*() {
      // 10 chunks 30 ms apart: 300 ms in total, never idle for 150 ms.
      const ok = yield* streamed(Array.from({ length: 10 }, () => 30))
      assert.isTrue(Exit.isSuccess(ok))
      const stalled = yield* streamed([10, 600])
      assert.isTrue(Exit.isFailure(stalled))
      if (Exit.isFailure(stalled)) assert.include(String(stalled.cause), "stream idle after 150ms")
    }))
})

/** Streams one byte after each gap, in real time. */
const streamed = (gapsMs: ReadonlyArray<number>) => {
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const gap of gapsMs) {
        await new Promise((r) => setTimeout(r, gap))
        controller.enqueue(new Uint8Array([120]))
      }
      controller.close()
    }
  })
  const http = Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) => Effect.succeed(HttpClientResponse.fromWeb(request, new Response(body))))
  )
  return Effect.flatMap(HeyoClient.HeyoClient, (client) =>
    client.stream({ method: "GET", path: "/logs", idleTimeout: "150 millis" }).pipe(Stream.runCollect, Effect.exit)).pipe(
      Effect.provide(HeyoClient.layer({ baseUrl: "http://x.test" }).pipe(Layer.provide(http)))
    )
}

describe("capabilities", () => {
  const server = (reply: () => Reply) => {
    const http = mockHttp((r) => r.path === "/capabilities" ? reply() : { json: {} })
    return { requests: http.requests, layer: HeyoClient.layer({ baseUrl: "http://heyod.test" }).pipe(Layer.provide(http.layer)) }
  }
  const requireAll = (...features: Array<string>) =>
    Effect.flatMap(HeyoClient.HeyoClient, (c) => Effect.forEach(features, c.requireFeature, { discard: true }))

  it.effect("are read once per client, however many calls need them", () => {
    const { layer, requests } = server(() => ({ json: { features: ["exec-stream", "fs"] } }))
    return Effect.gen(function*() {
      yield* requireAll("exec-stream", "fs", "fs", "exec-stream")
      yield* Effect.all([requireAll("fs"), requireAll("fs"), requireAll("exec-stream")], { concurrency: "unbounded" })
      assert.strictEqual(requests.length, 1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a missing feature fails with Unsupported", () => {
    const { layer } = server(() => ({ json: { features: ["fs"] } }))
    return Effect.gen(function*() {
      const e = yield* Effect.flip(requireAll("checkpoints"))
      assert.strictEqual(e._tag, "Unsupported")
      if (e._tag === "Unsupported") assert.strictEqual(e.feature, "checkpoints")
      assert.include(e.message, "lists fs")
    }).pipe(Effect.provide(layer))
  })

  it.effect("a server without /capabilities (the Heyo cloud) has no features", () => {
    const { layer, requests } = server(() => ({ status: 404, json: { message: "no route" } }))
    return Effect.gen(function*() {
      const e = yield* Effect.flip(requireAll("fs"))
      assert.strictEqual(e._tag, "Unsupported")
      assert.include(e.message, "no features")
      yield* Effect.flip(requireAll("fs"))
      assert.strictEqual(requests.length, 1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a failed read is not cached", () => {
    const replies: Array<Reply> = [{ status: 500 }, { json: { features: ["fs"] } }]
    const { layer, requests } = server(() => replies.shift()!)
    return Effect.gen(function*() {
      const e = yield* Effect.flip(requireAll("fs"))
      assert.strictEqual(e._tag, "Api")
      yield* requireAll("fs")
      assert.strictEqual(requests.length, 2)
    }).pipe(Effect.provide(layer))
  })
})

describe("HeyoError", () => {
  it("every variant is a HeyoError with a message, and encodes", () => {
    const errors = [
      new HeyoError.SandboxFailed({ sandboxId: "sb-1", reason: "out of memory" }),
      new HeyoError.CommandFailed({ sandboxId: "sb-1", command: "make", exitCode: 2, stdout: "", stderr: "boom\n" }),
      new HeyoError.SessionExpired({ sessionId: Option.some("s1") }),
      new HeyoError.ShellExit({ exitCode: 3 }),
      new HeyoError.CheckinConflict({ expected: Option.some(4), current: 5 }),
      new HeyoError.RateLimited({ message: "slow", retryAfter: Option.none() })
    ]
    assert.deepStrictEqual(errors.map((e) => e.message), [
      "sandbox sb-1 failed: out of memory",
      "command exited with code 2 in sandbox sb-1: boom",
      "session s1 expired",
      "shell exited with code 3",
      "check-in conflict: expected version 4, server has 5",
      "slow"
    ])
    for (const e of errors) {
      assert.isTrue(HeyoError.isHeyoError(e))
      assert.isTrue(Schema.is(HeyoError.HeyoError)(e))
      Schema.encodeSync(HeyoError.HeyoError)(e)
    }
    assert.isFalse(HeyoError.isHeyoError(new Error("x")))
  })
})
