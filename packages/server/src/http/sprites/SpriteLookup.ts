/**
 * What every Sprites route starts with: the sandbox `{name}` designates (by id or by name), and
 * its query decoded with a 400 that says what is wrong.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import { Sandboxes } from "../../engine/Sandboxes.js"
import { BadRequest } from "../HttpErrors.js"

export const sprite = Effect.gen(function*() {
  const params = yield* HttpRouter.params
  return yield* (yield* Sandboxes).resolve(params["name"] ?? "")
})

export const query = <A, I extends Readonly<Record<string, string | ReadonlyArray<string> | undefined>>>(
  schema: Schema.Schema<A, I>
) =>
  HttpServerRequest.schemaSearchParams(schema).pipe(
    Effect.mapError((e) =>
      new BadRequest({
        message: `invalid query: ${ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => i.message).join("; ")}`
      })
    )
  )
