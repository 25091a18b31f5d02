/**
 * The Sprites dialect (reference/sprites-api.md, with its §9 choices) over the engine. Every
 * route addresses a sprite as `{name}`: a sandbox's name or id, looked up once by `sprite`.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SpritesSprite } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as CheckpointRoutes from "./CheckpointRoutes.js"
import * as ExecRoutes from "./ExecRoutes.js"
import * as FsRoutes from "./FsRoutes.js"
import * as NetworkPortsSocket from "./NetworkPortsSocket.js"
import * as NetworkRoutes from "./NetworkRoutes.js"
import * as ProxySocket from "./ProxySocket.js"
import * as SpriteUrlRoutes from "./SpriteUrlRoutes.js"

export { query, sprite } from "./SpriteLookup.js"
import { sprite } from "./SpriteLookup.js"

export const router = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/v1/sprites/:name",
    Effect.flatMap(sprite, (record) => Effect.flatMap(SpriteUrlRoutes.spriteWithUrl(record), HttpServerResponse.schemaJson(SpritesSprite.Sprite)))
  ),
  HttpRouter.concat(SpriteUrlRoutes.router),
  HttpRouter.concat(ExecRoutes.router),
  HttpRouter.concat(CheckpointRoutes.router),
  HttpRouter.concat(FsRoutes.router),
  HttpRouter.concat(NetworkRoutes.router),
  HttpRouter.get("/v1/sprites/:name/proxy", ProxySocket.route),
  HttpRouter.get("/v1/sprites/:name/ports/watch", NetworkPortsSocket.route)
)
