/**
 * The network policy engine, one for both dialects (reference/sprites-api.md §2.8).
 *
 * Matching a host name (lower-cased, trailing dot dropped):
 * - `example.com` matches that host only; `*.example.com` matches its subdomains at any depth,
 *   not `example.com` itself; `*` matches everything.
 * - The most specific matching rule wins: an exact host, then the longest suffix, then `*`. At
 *   equal specificity a rule written in the list beats one from a preset, and a deny beats an
 *   allow.
 * - `{include: "defaults"}` adds the preset's allow rules in place.
 * - No rules at all (`{rules: []}`): no enforcement. A name no rule matches is allowed; a policy
 *   that wants an allowlist ends with `{domain: "*", action: "deny"}`.
 */
import { SpritesNetworkPolicy } from "@heyo-effect/protocol"

export type Policy = SpritesNetworkPolicy.NetworkPolicy
export type Rule = SpritesNetworkPolicy.Rule

/** Package registries, source hosts, container registries and the major AI APIs. */
export const defaultsPreset: ReadonlyArray<string> = [
  "github.com",
  "*.github.com",
  "*.githubusercontent.com",
  "registry.npmjs.org",
  "*.npmjs.org",
  "registry.yarnpkg.com",
  "pypi.org",
  "*.pypi.org",
  "files.pythonhosted.org",
  "docker.io",
  "*.docker.io",
  "*.docker.com",
  "ghcr.io",
  "crates.io",
  "*.crates.io",
  "proxy.golang.org",
  "sum.golang.org",
  "api.openai.com",
  "api.anthropic.com",
  "generativelanguage.googleapis.com",
  "openrouter.ai"
]

export const open: Policy = SpritesNetworkPolicy.NetworkPolicy.make({ rules: [] })

export const denyAll: Policy = SpritesNetworkPolicy.NetworkPolicy.make({ rules: [{ domain: "*", action: "deny" }] })

export interface Decision {
  readonly allowed: boolean
  /** The rule that decided, as written (a preset rule names its preset); none when nothing matched. */
  readonly rule: { readonly domain: string; readonly action: "allow" | "deny"; readonly include?: "defaults" } | undefined
}

/** 0 for `*`; suffix length + 1 for `*.suffix`; a large number for an exact host. */
const specificity = (domain: string, host: string): number | undefined => {
  if (domain === "*") return 0
  if (domain.startsWith("*.")) {
    const suffix = domain.slice(1)
    return host.endsWith(suffix) && host.length > suffix.length ? suffix.length : undefined
  }
  return domain === host ? 10_000 : undefined
}

export const normalizeHost = (host: string) => host.toLowerCase().replace(/\.$/, "").replace(/^\[(.*)\]$/, "$1")

export const decide = (policy: Policy, rawHost: string): Decision => {
  if (policy.rules.length === 0) return { allowed: true, rule: undefined }
  const host = normalizeHost(rawHost)
  let best: { score: number; explicit: boolean; rule: NonNullable<Decision["rule"]> } | undefined
  const consider = (domain: string, action: "allow" | "deny", explicit: boolean, include?: "defaults") => {
    const score = specificity(domain, host)
    if (score === undefined) return
    const better = best === undefined ||
      score > best.score ||
      (score === best.score && explicit && !best.explicit) ||
      (score === best.score && explicit === best.explicit && action === "deny" && best.rule.action === "allow")
    if (better) best = { score, explicit, rule: include === undefined ? { domain, action } : { domain, action, include } }
  }
  for (const rule of policy.rules) {
    if (rule.include !== undefined) {
      for (const domain of defaultsPreset) consider(domain, "allow", false, rule.include)
    } else {
      consider(rule.domain, rule.action, true)
    }
  }
  return best === undefined ? { allowed: true, rule: undefined } : { allowed: best.rule.action === "allow", rule: best.rule }
}

/** "rule {"domain":"*","action":"deny"}" or "the defaults preset's rule ...". */
export const describeRule = (rule: Decision["rule"]): string =>
  rule === undefined
    ? "no rule"
    : rule.include !== undefined
    ? `rule ${JSON.stringify({ domain: rule.domain, action: rule.action })} of the "${rule.include}" preset`
    : `rule ${JSON.stringify({ domain: rule.domain, action: rule.action })}`
