/**
 * The Sprites dialect (reference/sprites-api.md, with its §9 choices) over the engine. Every
 * route addresses a sprite as `{name}`: a sandbox's name or id, looked up once by `sprite`.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SpritesExecQuery, SpritesSprite } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Sandboxes } from "../../engine/Sandboxes.js"
import { BadRequest } from "../HttpErrors.js"
import * as ExecSocket from "./ExecSocket.js"
import { spriteOf } from "./SpriteView.js"

/** The sandbox `{name}` designates, by id or by name. */
export const sprite = Effect.gen(function*() {
  const params = yield* HttpRouter.params
  return yield* (yield* Sandboxes).resolve(params["name"] ?? "")
})

const query = <A, I extends Readonly<Record<string, string | ReadonlyArray<string> | undefined>>>(
  schema: Schema.Schema<A, I>
) =>
  HttpServerRequest.schemaSearchParams(schema).pipe(
    Effect.mapError((e) =>
      new BadRequest({
        message: `invalid query: ${ParseResult.ArrayFormatter.formatErrorSync(e).map((i) => i.message).join("; ")}`
      })
    )
  )

const isUpgrade = (request: HttpServerRequest.HttpServerRequest) =>
  request.headers["upgrade"]?.toLowerCase() === "websocket"

export const router = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/v1/sprites/:name",
    Effect.flatMap(sprite, (record) => HttpServerResponse.schemaJson(SpritesSprite.Sprite)(spriteOf(record)))
  ),
  HttpRouter.get(
    "/v1/sprites/:name/exec",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const record = yield* sprite
      if (!isUpgrade(request)) {
        return yield* new BadRequest({ message: "exec needs a WebSocket upgrade (Upgrade: websocket)" })
      }
      const q = yield* query(SpritesExecQuery.ExecQuery)
      if (q.tty) return yield* new BadRequest({ message: "tty=true is not supported by this heyod yet" })
      // Spawned before the upgrade, so a sandbox that is not running is a plain HTTP 409.
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* (yield* Sandboxes).spawn(record.id, {
          argv: q.cmd,
          cwd: q.dir,
          env: SpritesExecQuery.envRecord(q.env),
          stdin: q.stdin
        })
        yield* ExecSocket.run(process, { command: q.cmd.join(" "), stdin: q.stdin }).pipe(
          // past the upgrade nothing can answer in HTTP any more
          Effect.catchTag("RequestError", (e) => Effect.logWarning(`exec upgrade failed: ${e.message}`))
        )
      }))
      // Written nowhere: the connection belongs to the WebSocket now.
      return HttpServerResponse.empty()
    })
  )
)
