/**
 * The configured transport every SDK service goes through: base URL, bearer key, JSON, deadlines,
 * retries for idempotent calls, error mapping, and the server's capabilities.
 *
 * The SDK brings no HTTP implementation: provide `HttpClient.HttpClient` yourself
 * (`NodeHttpClient.layerUndici`, `FetchHttpClient.layer`, or a mock). The layer captures it, so
 * the service's methods need nothing from the environment.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { HeyoServer } from "@heyo-effect/protocol"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { flow } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SynchronizedRef from "effect/SynchronizedRef"
import * as HeyoError from "./HeyoError.js"
import * as Http from "./internal/http.js"
import { listen } from "./internal/localListener.js"
import * as P2pTunnel from "./internal/p2pTunnel.js"
import * as WebSocket from "./internal/webSocket.js"

/** @since 0.1.0 */
export const DEFAULT_BASE_URL = "https://server.heyo.computer"
/** heyod's (and heyvmd's) default address. @since 0.1.0 */
export const DEFAULT_LOCAL_BASE_URL = "http://127.0.0.1:34099"
/** @since 0.1.0 */
export const DEFAULT_TIMEOUT: Duration.Duration = Duration.seconds(60)

/** @since 0.1.0 */
export interface Options {
  readonly baseUrl: string
  /** Sent as `Authorization: Bearer`; an empty key means no header, as in the Rust SDK. */
  readonly apiKey?: Redacted.Redacted | undefined
  /**
   * Time until the response headers arrive (default 60 s). A JSON body then gets as long again
   * to arrive; a streamed body gets it as an idle timeout between chunks, never as a total.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * The WebSocket implementation for streamed commands and shells, for runtimes other than Node
   * (browsers, Deno, Bun, workers). By default the SDK uses the `ws` package, which sends the
   * bearer header and pauses a socket whose consumer is behind; see `WebSocketConstructor` for
   * what a standard WebSocket cannot do.
   */
  readonly webSocket?: WebSocketConstructor | undefined
}

/**
 * A standard (WHATWG) WebSocket class, e.g. `globalThis.WebSocket`. It is given the bearer as
 * `headers` in a second argument, which Node 22+, Deno and Bun accept and browsers ignore (use
 * a server route that takes `?token=` there). A standard WebSocket cannot stop reading, so with
 * one, a slow consumer's unread messages are buffered in memory; and a refused upgrade is seen
 * only as a Connection error, without its status.
 *
 * @since 0.1.0
 */
export type WebSocketConstructor = new(
  url: string,
  options?: { readonly headers?: Readonly<Record<string, string>> }
) => StandardWebSocket

/** The part of the WHATWG WebSocket the SDK uses. @since 0.1.0 */
export interface StandardWebSocket {
  binaryType: string
  readonly readyState: number
  readonly bufferedAmount: number
  send(data: string | ArrayBufferView | ArrayBuffer): void
  close(code?: number, reason?: string): void
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: any) => void): void
}

/** @since 0.1.0 */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

/** One HTTP call, in wire terms. @since 0.1.0 */
export interface RequestOptions {
  readonly method: Method
  /** Relative to the base URL; build it with `path` so ids are percent-encoded. */
  readonly path: string
  /** Keys with `undefined` values are left out. */
  readonly query?: Readonly<Record<string, string | undefined>> | undefined
  /** Already in wire shape (encode it with the protocol schema first); sent as JSON. */
  readonly body?: unknown
  /** Overrides the client's timeout for this call only. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Retry on transport failures and 503. Defaults to true for GET and DELETE, false otherwise:
   * a repeated create or exec could run twice.
   */
  readonly idempotent?: boolean | undefined
}

/** @since 0.1.0 */
export interface StreamOptions extends RequestOptions {
  /** The longest gap allowed between two chunks; defaults to the call's timeout. */
  readonly idleTimeout?: Duration.DurationInput | undefined
}

/** A WebSocket upgrade, in wire terms. @since 0.1.0 */
export interface WebSocketOptions {
  /** Relative to the base URL (`http` becomes `ws`); build it with `path`. */
  readonly path: string
  /** Repeated keys are allowed, in order. */
  readonly query?: ReadonlyArray<readonly [string, string]> | undefined
}

/** An open WebSocket, bounded in memory: unread messages past 1 MiB stop the socket being read. @since 0.1.0 */
export interface WebSocketConnection {
  /** Text frames as strings, binary frames as bytes; ends when the socket closes. */
  readonly messages: Stream.Stream<string | Uint8Array, HeyoError.Connection>
  /** Resolves once the socket has room again (real backpressure on the writer). */
  readonly send: (data: Uint8Array | string) => Effect.Effect<void, HeyoError.Connection>
  /** The close code once the socket closed. */
  readonly closeCode: Effect.Effect<Option.Option<number>>
}

/** Reading capabilities never fails with NotFound: a 404 means "no extensions". @since 0.1.0 */
export type CapabilitiesError = Exclude<HeyoError.HttpError, HeyoError.NotFound>

/** @since 0.1.0 */
export interface Service {
  readonly baseUrl: string
  readonly apiKey: Option.Option<Redacted.Redacted>
  readonly timeout: Duration.Duration
  /** The user's client with base URL, bearer and `Accept` applied: an escape hatch. */
  readonly httpClient: HttpClient.HttpClient
  /** A call whose response body is ignored. */
  readonly execute: (options: RequestOptions) => Effect.Effect<void, HeyoError.HttpError>
  /** A call whose 2xx body is decoded with `schema`; a body that does not decode is an Api error. */
  readonly json: <A, I>(schema: Schema.Schema<A, I>, options: RequestOptions) => Effect.Effect<A, HeyoError.HttpError>
  /** A call whose 2xx body is streamed, with an idle timeout instead of a total one. */
  readonly stream: (options: StreamOptions) => Stream.Stream<Uint8Array, HeyoError.HttpError>
  /** `GET /capabilities`, read once per client; a server without the route (404) has no features. */
  readonly capabilities: Effect.Effect<HeyoServer.Capabilities, CapabilitiesError>
  /**
   * Opens a WebSocket with the bearer header for the Scope's lifetime (closing the Scope closes
   * it). A refused upgrade fails like an HTTP call with that status; the client's timeout bounds
   * the upgrade.
   */
  readonly webSocket: (options: WebSocketOptions) => Effect.Effect<WebSocketConnection, HeyoError.HttpError, Scope.Scope>
  /** Fails with Unsupported unless the server lists `feature` in its capabilities. */
  readonly requireFeature: (feature: string) => Effect.Effect<void, HeyoError.Unsupported | CapabilitiesError>
}

/** @since 0.1.0 */
export class HeyoClient extends Context.Tag("@heyo-effect/sdk/HeyoClient")<HeyoClient, Service>() {}

/** Builds a path with percent-encoded values: path`/sandbox/${id}/exec`. @since 0.1.0 */
export const path = Http.path

// Bounded and short: callers wait on it, and a longer outage is theirs to handle.
const retrySchedule = Schedule.exponential("250 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(3)))

/** @since 0.1.0 */
export const make = (options: Options): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const baseUrl = options.baseUrl.replace(/\/+$/, "")
    const apiKey = Option.fromNullable(options.apiKey).pipe(Option.filter((k) => Redacted.value(k) !== ""))
    const timeout = Duration.decode(options.timeout ?? DEFAULT_TIMEOUT)

    const httpClient = (yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest(flow(
        HttpClientRequest.prependUrl(baseUrl),
        HttpClientRequest.acceptJson,
        (request) => Option.match(apiKey, { onNone: () => request, onSome: (key) => HttpClientRequest.bearerToken(request, key) })
      ))
    )

    const timeoutError = (call: string, d: Duration.Duration, what: string) => () =>
      new HeyoError.Timeout({ message: `${what} after ${Duration.format(d)} (calling ${call})`, timeout: d })

    const connectionError = (call: string) => (error: HttpClientError.HttpClientError) =>
      new HeyoError.Connection({ message: `network error (calling ${call}): ${Http.describeCause(error.cause ?? error)}`, cause: error })

    // Reading a body: bounded by `d`, a broken connection is a Connection error.
    const readText = (call: string, d: Duration.Duration, response: HttpClientResponse.HttpClientResponse) =>
      response.text.pipe(
        Effect.mapError(connectionError(call)),
        Effect.timeoutFail({ duration: d, onTimeout: timeoutError(call, d, "response body stalled") })
      )

    const toRequest = (o: RequestOptions) => {
      let request = HttpClientRequest.make(o.method)(o.path.startsWith("/") ? o.path : `/${o.path}`)
      const query = Object.entries(o.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined)
      if (query.length > 0) request = HttpClientRequest.setUrlParams(request, query)
      if (o.body !== undefined) request = HttpClientRequest.bodyUnsafeJson(request, o.body)
      return request
    }

    // Up to the response headers; a non-2xx becomes its HeyoError here.
    const respond = (o: RequestOptions, call: string, d: Duration.Duration) =>
      httpClient.execute(toRequest(o)).pipe(
        Effect.mapError(connectionError(call)),
        Effect.timeoutFail({ duration: d, onTimeout: timeoutError(call, d, "no response") }),
        Effect.flatMap((response) =>
          response.status >= 200 && response.status < 300
            ? Effect.succeed(response)
            : readText(call, d, response).pipe(
              Effect.orElseSucceed(() => ""),
              Effect.flatMap((text) => Http.statusError(call, response.status, text, response.headers)),
              Effect.flatMap(Effect.fail)
            )
        )
      )

    const call = <A>(
      o: RequestOptions,
      body: (response: HttpClientResponse.HttpClientResponse, call: string, d: Duration.Duration) => Effect.Effect<A, HeyoError.HttpError>
    ): Effect.Effect<A, HeyoError.HttpError> => {
      const name = `${o.method} ${o.path}`
      const d = o.timeout === undefined ? timeout : Duration.decode(o.timeout)
      const once = Effect.flatMap(respond(o, name, d), (response) => body(response, name, d))
      const idempotent = o.idempotent ?? (o.method === "GET" || o.method === "DELETE")
      return idempotent ? Effect.retry(once, { schedule: retrySchedule, while: Http.isTransient }) : once
    }

    const execute = (o: RequestOptions) =>
      call(o, (response, name, d) => Effect.ignore(readText(name, d, response)))

    const json = <A, I>(schema: Schema.Schema<A, I>, o: RequestOptions) =>
      call(o, (response, name, d) =>
        Effect.flatMap(readText(name, d, response), (text) => {
          const invalid = (detail: string) =>
            new HeyoError.Api({ status: response.status, message: `unexpected response body (calling ${name}): ${detail}` })
          // An empty 2xx body reads as JSON null, as in the Rust SDK.
          const parsed = text.trim() === "" ? Option.some(null) : Http.parseJson(text)
          if (Option.isNone(parsed)) return Effect.fail(invalid(`not JSON: ${text.slice(0, 200)}`))
          return Schema.decodeUnknown(schema)(parsed.value).pipe(
            Effect.mapError((e) => invalid(Http.describeIssues(e)))
          )
        }))

    const stream = (o: StreamOptions): Stream.Stream<Uint8Array, HeyoError.HttpError> =>
      call(o, (response, name, d) => {
        const idle = o.idleTimeout === undefined ? d : Duration.decode(o.idleTimeout)
        return Effect.succeed(response.stream.pipe(
          Stream.mapError(connectionError(name)),
          Stream.timeoutFail(timeoutError(name, idle, "stream idle"), idle)
        ))
      }).pipe(Stream.unwrap)

    const fetchCapabilities = json(HeyoServer.Capabilities, { method: "GET", path: "/capabilities" }).pipe(
      // The Heyo cloud has no such route: it simply has no extensions.
      Effect.catchTag("NotFound", () => Effect.succeed(new HeyoServer.Capabilities({})))
    )
    // Only a success is cached: a transient failure must not pin "no features" for good.
    const cache = yield* SynchronizedRef.make(Option.none<HeyoServer.Capabilities>())
    const capabilities = SynchronizedRef.modifyEffect(cache, (cached) =>
      Option.match(cached, {
        onSome: (c) => Effect.succeed([c, cached] as const),
        onNone: () => Effect.map(fetchCapabilities, (c) => [c, Option.some(c)] as const)
      })).pipe(Effect.withSpan("HeyoClient.capabilities", { captureStackTrace: false }))

    const requireFeature = Effect.fn("HeyoClient.requireFeature")(function*(feature: string) {
      yield* Effect.annotateCurrentSpan("heyo.feature", feature)
      const { features } = yield* capabilities
      if (!features.includes(feature)) {
        return yield* new HeyoError.Unsupported({
          feature,
          message: `${baseUrl} does not support "${feature}": it is a heyod extension, and this server's ` +
            `GET /capabilities lists ${features.length === 0 ? "no features" : features.join(", ")}`
        })
      }
    })

    const webSocket = (o: WebSocketOptions) =>
      options.webSocket === undefined
        ? WebSocket.connect({ baseUrl, apiKey, timeout }, o)
        : WebSocket.connectStandard({ baseUrl, apiKey, timeout }, options.webSocket, o)

    return HeyoClient.of({ baseUrl, apiKey, timeout, httpClient, execute, json, stream, webSocket, capabilities, requireFeature })
  })

/** @since 0.1.0 */
export const layer = (options: Options): Layer.Layer<HeyoClient, never, HttpClient.HttpClient> =>
  Layer.effect(HeyoClient, make(options))

/**
 * Reads `HEYO_API_KEY` (optional, kept `Redacted`) and `HEYO_BASE_URL` (default: the Heyo cloud).
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<HeyoClient, ConfigError.ConfigError, HttpClient.HttpClient> = Layer.unwrapEffect(
  Effect.map(
    Config.all({
      apiKey: Config.option(Config.redacted("HEYO_API_KEY")),
      baseUrl: Config.string("HEYO_BASE_URL").pipe(Config.withDefault(DEFAULT_BASE_URL))
    }),
    ({ apiKey, baseUrl }) => layer({ baseUrl, apiKey: Option.getOrUndefined(apiKey) })
  )
)

/**
 * A client for a server on this machine (heyod or heyvmd, `http://127.0.0.1:34099`). It never
 * reads `HEYO_API_KEY`: pass `apiKey` if the server was started with one.
 *
 * @since 0.1.0
 */
export const layerLocal = (
  options?: Partial<Options> | undefined
): Layer.Layer<HeyoClient, never, HttpClient.HttpClient> =>
  layer({ ...options, baseUrl: options?.baseUrl ?? DEFAULT_LOCAL_BASE_URL })

/** @since 0.1.0 */
export interface P2pClientOptions extends Omit<Partial<Options>, "baseUrl">, P2pTunnel.P2pOptions {}

/**
 * A client whose every HTTP and WebSocket call rides a P2P tunnel (iroh, hey-proxy) to a heyod
 * or Heyo daemon, as Heyo's `HeyoClient::connect_p2p(ticket, relay, api_key)`. The ticket is the
 * daemon's connection ticket (`Daemons.connectionTicket`, `GET /me/daemons/:id/connection-ticket`):
 * a full `heyo://` EndpointTicket, or a short code resolved by its broker (`relay`).
 *
 * The layer holds the tunnel: a local listener on 127.0.0.1 (the client's base URL), one iroh
 * connection, one stream per TCP connection the HTTP client opens. Building it fails with
 * `Connection` when the daemon cannot be reached, and releasing it closes the tunnel. The ticket
 * only opens the path: a daemon with an API key still wants `apiKey`. The iroh endpoint is
 * loopback-only unless `network: "production"` (see `P2pOptions`).
 *
 * @since 0.1.0
 */
export const layerP2p = (
  ticket: string,
  options?: P2pClientOptions | undefined
): Layer.Layer<HeyoClient, HeyoError.HttpError, HttpClient.HttpClient> =>
  Layer.scoped(
    HeyoClient,
    Effect.gen(function*() {
      const timeout = Duration.decode(options?.timeout ?? DEFAULT_TIMEOUT)
      const tunnel = yield* P2pTunnel.connect(ticket, timeout, options, (handle) => listen(handle, undefined))
      return yield* make({ ...options, baseUrl: tunnel.localUrl })
    }).pipe(Effect.withSpan("HeyoClient.layerP2p"))
  )
