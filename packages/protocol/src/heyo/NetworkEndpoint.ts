/**
 * Bound URLs (reference/heyo-api.md §2.1): `POST /proxy-endpoints/for-deployed`
 * `{sandbox_id, port, is_public?}` -> a BoundUrl (plus `sandbox_id`), listed afterwards in
 * `SandboxInfo.urls`. On heyod the URL is `http://<subdomain>.localhost:<heyod port>/`, served by
 * Host header; a non-public one needs the API key (bearer header, or the cookie set by
 * `/__heyo/login?key=...&next=/path` on that host).
 */
import * as Schema from "effect/Schema"
import { BoundUrl } from "./Sandbox.js"

export class ProxyEndpointRequest extends Schema.Class<ProxyEndpointRequest>("ProxyEndpointRequest")({
  sandboxId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("sandbox_id")),
  port: Schema.Int.pipe(Schema.between(1, 65535)),
  /** Default true, as the SDKs read a missing `is_public`. */
  isPublic: Schema.optionalWith(Schema.Boolean, { default: () => true }).pipe(Schema.fromKey("is_public"))
}) {}

export class ProxyEndpointResponse extends BoundUrl.extend<ProxyEndpointResponse>("ProxyEndpointResponse")({
  sandboxId: Schema.optional(Schema.String).pipe(Schema.fromKey("sandbox_id"))
}) {}

/** The login path of a bound URL's host: sets the key cookie, then redirects to `next`. */
export const loginPath = "/__heyo/login"

/** The cookie a private bound URL accepts instead of the bearer header. */
export const cookieName = "heyo_bound_key"
