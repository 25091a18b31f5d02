/** The SDK layers an end-to-end test uses to talk to a real heyod. */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { HeyoClient, Sandbox } from "@heyo-effect/sdk"
import type * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type { Heyod } from "../support/Heyod.js"

/** `options.apiKey` overrides the server's own key; `null` sends none. */
export const layer = (
  heyod: Heyod,
  options: { readonly apiKey?: string | null; readonly timeout?: Duration.DurationInput } = {}
) => {
  const apiKey = options.apiKey === undefined ? heyod.apiKey : options.apiKey ?? undefined
  return Sandbox.layer.pipe(
    Layer.provideMerge(
      HeyoClient.layer({
        baseUrl: heyod.url,
        apiKey: apiKey === undefined ? undefined : Redacted.make(apiKey),
        timeout: options.timeout
      })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )
}
