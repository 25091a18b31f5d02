/**
 * Request bodies: read within the size limit, parsed as JSON, decoded with a protocol schema.
 * Every refusal names what was wrong, field by field.
 */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { ServerConfig } from "../ServerConfig.js"
import { BadRequest, PayloadTooLarge } from "./HttpErrors.js"

const formatParseError = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "body"}: ${issue.message}`)
    .join("; ")

/** The raw body text, refused with 413 past the configured limit. */
export const text = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const { maxBodyBytes } = yield* ServerConfig
  const declared = Number(request.headers["content-length"])
  if (Number.isFinite(declared) && declared > maxBodyBytes) {
    return yield* new PayloadTooLarge({ limit: maxBodyBytes })
  }
  return yield* request.text.pipe(
    HttpIncomingMessage.withMaxBodySize(Option.some(maxBodyBytes)),
    Effect.mapError((error) =>
      String(error.cause).includes("maxBytes exceeded")
        ? new PayloadTooLarge({ limit: maxBodyBytes })
        : new BadRequest({ message: `could not read the request body: ${error.message}` })
    )
  )
})

/**
 * Decodes a JSON body with `schema`. An empty body decodes as `{}` so routes whose fields are all
 * optional accept a bare POST. Unknown fields are ignored (clients send extras such as `daemonId`).
 */
export const json = <A, I>(schema: Schema.Schema<A, I>) =>
  Effect.gen(function*() {
    const body = yield* text
    let value: unknown = {}
    if (body.trim() !== "") {
      try {
        value = JSON.parse(body)
      } catch (e) {
        return yield* new BadRequest({ message: `request body is not valid JSON: ${(e as Error).message}` })
      }
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return yield* new BadRequest({ message: "request body must be a JSON object" })
    }
    return yield* Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })(value).pipe(
      Effect.mapError((error) => new BadRequest({ message: formatParseError(error) }))
    )
  })
