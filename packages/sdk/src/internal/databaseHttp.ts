/**
 * The database calls that plain JSON cannot carry: `exec` bodies go through the lossless
 * SqlJson codec (64-bit integers, `1.0`), `checkout` answers gzip bytes plus a header, and
 * `checkin` uploads gzip bytes. They use the client's configured HttpClient (base URL, bearer,
 * Accept) with the same deadlines and error mapping as every other call.
 */
import * as HttpBody from "@effect/platform/HttpBody"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { SqlJson } from "@heyo-effect/protocol"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as HeyoClient from "../HeyoClient.js"
import * as HeyoError from "../HeyoError.js"
import { describeCause, describeIssues, statusError } from "./http.js"

export interface RawRequest {
  readonly method: "GET" | "POST" | "PUT"
  readonly path: string
  readonly query?: Readonly<Record<string, string | undefined>> | undefined
  readonly body?: HttpBody.HttpBody | undefined
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * One call; `read` consumes the 2xx response within the same deadline. A non-2xx becomes its
 * HeyoError, a broken connection Connection, a deadline Timeout.
 */
export const call = <A>(
  client: HeyoClient.Service,
  o: RawRequest,
  read: (response: HttpClientResponse.HttpClientResponse, name: string) => Effect.Effect<A, HeyoError.HttpError>
): Effect.Effect<A, HeyoError.HttpError> => {
  const name = `${o.method} ${o.path}`
  const d = o.timeout === undefined ? client.timeout : Duration.decode(o.timeout)
  let request = HttpClientRequest.make(o.method)(o.path)
  const query = Object.entries(o.query ?? {}).filter((e): e is [string, string] => e[1] !== undefined)
  if (query.length > 0) request = HttpClientRequest.setUrlParams(request, query)
  if (o.body !== undefined) request = HttpClientRequest.setBody(request, o.body)
  const connection = (error: HttpClientError.HttpClientError) =>
    new HeyoError.Connection({ message: `network error (calling ${name}): ${describeCause(error.cause ?? error)}`, cause: error })
  return client.httpClient.execute(request).pipe(
    Effect.mapError(connection),
    Effect.flatMap((response) =>
      response.status >= 200 && response.status < 300
        ? read(response, name)
        : response.text.pipe(
          Effect.orElseSucceed(() => ""),
          Effect.flatMap((text) => statusError(name, response.status, text, response.headers)),
          Effect.flatMap(Effect.fail)
        )
    ),
    Effect.timeoutFail({
      duration: d,
      onTimeout: () => new HeyoError.Timeout({ message: `no complete response after ${Duration.format(d)} (calling ${name})`, timeout: d })
    })
  )
}

/** A JSON body written and read with SqlJson, decoded with `schema`. */
export const losslessJson = <A, I, B, J>(
  client: HeyoClient.Service,
  path: string,
  request: { readonly schema: Schema.Schema<B, J>; readonly value: B },
  response: Schema.Schema<A, I>,
  timeout?: Duration.DurationInput | undefined
): Effect.Effect<A, HeyoError.HttpError> =>
  Schema.encode(request.schema)(request.value).pipe(
    Effect.mapError((e) => new HeyoError.InvalidArgument({ message: `invalid argument: ${describeIssues(e)}` })),
    Effect.flatMap((encoded) =>
      Effect.try({
        try: () => SqlJson.stringify(encoded),
        catch: (e) => new HeyoError.InvalidArgument({ message: `invalid argument: ${(e as Error).message}` })
      })
    ),
    Effect.flatMap((text) =>
      call(
        client,
        { method: "POST", path, body: HttpBody.text(text, "application/json"), timeout },
        (r, name) =>
          r.text.pipe(
            Effect.mapError((e) => new HeyoError.Connection({ message: `network error (calling ${name}): ${describeCause(e)}`, cause: e })),
            Effect.flatMap((body) => {
              const invalid = (detail: string) =>
                new HeyoError.Api({ status: r.status, message: `unexpected response body (calling ${name}): ${detail}` })
              let parsed: unknown
              try {
                parsed = SqlJson.parse(body)
              } catch (e) {
                return Effect.fail(invalid(`not JSON: ${(e as Error).message}`))
              }
              return Schema.decodeUnknown(response)(parsed).pipe(Effect.mapError((e) => invalid(describeIssues(e))))
            })
          )
      )
    )
  )

const transform = (bytes: Uint8Array, stream: CompressionStream | DecompressionStream) =>
  new Response(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(stream)).arrayBuffer().then((b) => new Uint8Array(b))

/** gzip through the platform's CompressionStream (Node 18+, browsers, Deno, Bun). */
export const gzip = (bytes: Uint8Array) => Effect.promise(() => transform(bytes, new CompressionStream("gzip")))

export const gunzip = (bytes: Uint8Array, name: string) =>
  Effect.tryPromise({
    try: () => transform(bytes, new DecompressionStream("gzip")),
    catch: (e) => new HeyoError.Api({ status: 200, message: `the body is not gzip data (calling ${name}): ${describeCause(e)}` })
  })
