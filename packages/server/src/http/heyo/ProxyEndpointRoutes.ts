/**
 * Heyo bound URLs (reference/heyo-api.md §2.1): `POST /proxy-endpoints/for-deployed`
 * `{sandbox_id, port, is_public?}` -> BoundUrl + `sandbox_id`, and the `urls` of SandboxInfo.
 * The URL is `http://<subdomain>.localhost:<heyod port>/` (ProxyEndpointHost.ts serves it), the
 * port being the one the client reached heyod on (its Host header).
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { HeyoNetworkEndpoint, HeyoSandbox } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import { Sandboxes } from "../../engine/Sandboxes.js"
import type { Binding } from "../../network/BoundPorts.js"
import * as Network from "../../network/Network.js"
import { ServerConfig } from "../../ServerConfig.js"
import type { SandboxRecord } from "../../state/SandboxRecord.js"
import * as Body from "../Body.js"

/** The port clients reach heyod on. */
const serverPort = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const match = /:(\d+)$/.exec(request.headers["host"] ?? "")
  return match !== null ? match[1]! : String((yield* ServerConfig).port)
})

const boundUrl = (binding: Binding, port: string) =>
  new HeyoSandbox.BoundUrl({
    subdomain: binding.subdomain,
    hostname: `${binding.subdomain}.localhost`,
    url: `http://${binding.subdomain}.localhost:${port}`,
    port: binding.port,
    isPublic: binding.isPublic
  })

/** `SandboxInfo.urls` of a sandbox: its bound ports. */
export const urlsOf = (record: SandboxRecord) =>
  Effect.gen(function*() {
    const network = yield* Network.optional
    if (network === undefined) return []
    const port = yield* serverPort
    return network.boundPorts(record.id).map((binding) => boundUrl(binding, port))
  })

export const router = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/proxy-endpoints/for-deployed",
    Effect.gen(function*() {
      const body = yield* Body.json(HeyoNetworkEndpoint.ProxyEndpointRequest)
      const record = yield* (yield* Sandboxes).get(body.sandboxId)
      const binding = yield* (yield* Network.required).bindPort(record.id, body.port, body.isPublic)
      const url = boundUrl(binding, yield* serverPort)
      return yield* HttpServerResponse.schemaJson(HeyoNetworkEndpoint.ProxyEndpointResponse)(
        new HeyoNetworkEndpoint.ProxyEndpointResponse({ ...url, sandboxId: record.id })
      )
    })
  )
)
