/**
 * heyod's one HTTP app: `/v1/sprites/...` goes to the Sprites dialect, everything else to the
 * Heyo dialect, on the same port (the SDK reaches both through one base URL).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as HeyoApp from "./heyo/HeyoApp.js"
import * as SpritesApp from "./sprites/SpritesApp.js"

export const app = Effect.flatMap(
  HttpServerRequest.HttpServerRequest,
  (request) => SpritesApp.handles(request.url) ? SpritesApp.app : HeyoApp.app
)
