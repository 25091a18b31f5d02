/**
 * heyod's one HTTP app: `/v1/sprites/...` goes to the Sprites dialect, everything else to the
 * Heyo dialect, on the same port (the SDK reaches both through one base URL).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as HeyoApp from "./heyo/HeyoApp.js"
import * as ProxyEndpointHost from "./heyo/ProxyEndpointHost.js"
import * as LibsqlApp from "./libsql/LibsqlApp.js"
import * as SpritesApp from "./sprites/SpritesApp.js"

type Apps = typeof HeyoApp.app | typeof SpritesApp.app | typeof LibsqlApp.app | typeof ProxyEndpointHost.app
type AnyApp = Effect.Effect<Effect.Effect.Success<Apps>, Effect.Effect.Error<Apps>, Effect.Effect.Context<Apps>>

export const app = Effect.flatMap(
  HttpServerRequest.HttpServerRequest,
  (request): AnyApp =>
    // bound URLs (`<subdomain>.localhost`) go to sandboxes, with their own access rule
    ProxyEndpointHost.subdomainOf(request) !== undefined
      ? ProxyEndpointHost.app
      // libsql endpoints carry a database's connection token instead of the API key.
      : LibsqlApp.handles(request.url)
      ? LibsqlApp.app
      : SpritesApp.handles(request.url)
      ? SpritesApp.app
      : HeyoApp.app
)
