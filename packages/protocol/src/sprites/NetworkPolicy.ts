/**
 * The Sprites network policy (reference/sprites-api.md §2.8): `GET|POST
 * /v1/sprites/{name}/policy/network` bodies. heyod also takes it at create as the Heyo-dialect
 * extension field `network_policy`.
 *
 * A rule is either `{domain, action}` or `{include}`, never both: a body mixing them is refused.
 */
import * as Schema from "effect/Schema"

const label = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
const domainPattern = new RegExp(`^(?:\\*|(?:\\*\\.)?${label}(?:\\.${label})*)$`)

/** `*`, an exact host (`github.com`) or a suffix (`*.github.com`, which matches subdomains only). */
export const Domain = Schema.Lowercase.pipe(
  Schema.compose(Schema.String.pipe(Schema.maxLength(253))),
  Schema.filter((domain) => domainPattern.test(domain) || `"${domain}" is not "*", a host name or "*.<host name>"`)
)

export const Action = Schema.Literal("allow", "deny")
export type Action = typeof Action.Type

/** The one preset: package registries, source hosts and the major AI APIs. */
export const Preset = Schema.Literal("defaults")
export type Preset = typeof Preset.Type

export const DomainRule = Schema.Struct({
  domain: Domain,
  action: Action,
  include: Schema.optional(Schema.Never)
})
export type DomainRule = typeof DomainRule.Type

export const IncludeRule = Schema.Struct({
  include: Preset,
  domain: Schema.optional(Schema.Never),
  action: Schema.optional(Schema.Never)
})
export type IncludeRule = typeof IncludeRule.Type

export const Rule = Schema.Union(DomainRule, IncludeRule)
export type Rule = typeof Rule.Type

/** `{rules: []}` means no enforcement. */
export class NetworkPolicy extends Schema.Class<NetworkPolicy>("NetworkPolicy")({
  rules: Schema.Array(Rule).pipe(Schema.maxItems(1000))
}) {}
