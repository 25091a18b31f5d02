/**
 * The sprite URL and its `url_settings` (reference/sprites-api.md §2.1, §2.5): on heyod a
 * sprite's URL is the bound URL of its port 8080 (the port Sprites routes a sprite URL to by
 * default), `http://<subdomain>.localhost:<heyod port>/`, and `url_settings.auth` is that
 * binding's public flag: `public` serves anyone, `sprite` needs the API key (as a private Heyo
 * bound URL). `PUT /v1/sprites/{name}` with `url_settings.auth` binds the port that way;
 * heyod keeps no labels, so `labels` / `clear_labels` are refused with 400.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SpritesSprite } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import { InvalidRequest } from "../../engine/EngineError.js"
import * as Network from "../../network/Network.js"
import { ServerConfig } from "../../ServerConfig.js"
import type { SandboxRecord } from "../../state/SandboxRecord.js"
import * as Body from "../Body.js"
import { sprite } from "./SpriteLookup.js"
import { spriteOf } from "./SpriteView.js"

/** The port a sprite URL serves. */
export const urlPort = 8080

/** The Sprite object with its URL and `url_settings` when port 8080 is bound. */
export const spriteWithUrl = (record: SandboxRecord) =>
  Effect.gen(function*() {
    const base = spriteOf(record)
    const network = yield* Network.optional
    const binding = network?.boundPorts(record.id).find((b) => b.port === urlPort)
    if (binding === undefined) return base
    const request = yield* HttpServerRequest.HttpServerRequest
    const port = /:(\d+)$/.exec(request.headers["host"] ?? "")?.[1] ?? String((yield* ServerConfig).port)
    return new SpritesSprite.Sprite({
      ...base,
      url: `http://${binding.subdomain}.localhost:${port}`,
      url_settings: new SpritesSprite.UrlSettings({ auth: binding.isPublic ? "public" : "sprite" })
    })
  })

export const router = HttpRouter.empty.pipe(
  HttpRouter.put(
    "/v1/sprites/:name",
    Effect.gen(function*() {
      const record = yield* sprite
      const body = yield* Body.json(SpritesSprite.SpriteUpdateBody)
      if (body.labels !== undefined || body.clear_labels !== undefined) {
        return yield* new InvalidRequest({ message: "labels: heyod keeps no sprite labels" })
      }
      const auth = body.url_settings?.auth
      if (auth !== undefined) yield* (yield* Network.required).bindPort(record.id, urlPort, auth === "public")
      return yield* HttpServerResponse.schemaJson(SpritesSprite.Sprite)(yield* spriteWithUrl(record))
    })
  )
)
