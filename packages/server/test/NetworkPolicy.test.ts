/** The policy engine's matching rules and the egress address refusal, without a sandbox. */
import { assert, describe, it } from "@effect/vitest"
import { SpritesNetworkPolicy } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as AddressCheck from "../src/network/AddressCheck.js"
import * as Policy from "../src/network/Policy.js"
import * as Resolver from "../src/network/Resolver.js"

const policy = (rules: ReadonlyArray<Policy.Rule>) => SpritesNetworkPolicy.NetworkPolicy.make({ rules })
const allowed = (p: Policy.Policy, host: string) => Policy.decide(p, host).allowed

describe("Policy.decide", () => {
  it("no rules: everything allowed, no rule named", () => {
    assert.deepStrictEqual(Policy.decide(Policy.open, "anything.example"), { allowed: true, rule: undefined })
  })

  it("the most specific rule wins: exact, then longest suffix, then *", () => {
    const p = policy([
      { domain: "*", action: "deny" },
      { domain: "*.example.com", action: "allow" },
      { domain: "*.bad.example.com", action: "deny" },
      { domain: "ok.bad.example.com", action: "allow" }
    ])
    assert.isFalse(allowed(p, "other.org"))
    assert.isTrue(allowed(p, "www.example.com"))
    assert.isTrue(allowed(p, "a.b.example.com"))
    assert.isFalse(allowed(p, "x.bad.example.com"))
    assert.isTrue(allowed(p, "ok.bad.example.com"))
    // `*.suffix` is subdomains only
    assert.isFalse(allowed(p, "example.com"))
    assert.deepStrictEqual(Policy.decide(p, "x.bad.example.com").rule, { domain: "*.bad.example.com", action: "deny" })
  })

  it("case and a trailing dot do not matter; an unmatched name is allowed", () => {
    const p = policy([{ domain: "github.com", action: "deny" }])
    assert.isFalse(allowed(p, "GitHub.COM."))
    assert.isTrue(allowed(p, "gitlab.com"))
  })

  it("the defaults preset allows its hosts; an explicit rule beats it, deny beats allow on a tie", () => {
    const p = policy([{ include: "defaults" }, { domain: "*", action: "deny" }])
    assert.isTrue(allowed(p, "github.com"))
    assert.isTrue(allowed(p, "registry.npmjs.org"))
    assert.isFalse(allowed(p, "evil.example"))
    assert.deepStrictEqual(Policy.decide(p, "github.com").rule, { domain: "github.com", action: "allow", include: "defaults" })
    const overridden = policy([{ include: "defaults" }, { domain: "github.com", action: "deny" }])
    assert.isFalse(allowed(overridden, "github.com"))
    const tie = policy([{ domain: "a.test", action: "allow" }, { domain: "a.test", action: "deny" }])
    assert.isFalse(allowed(tie, "a.test"))
  })

  it("the wire schema refuses malformed domains and mixed rule forms", () => {
    const decode = Schema.decodeUnknownEither(SpritesNetworkPolicy.NetworkPolicy)
    assert.isTrue(decode({ rules: [{ domain: "*.Example.com", action: "allow" }] })._tag === "Right")
    for (const bad of [
      { domain: "a b", action: "allow" },
      { domain: "*example.com", action: "allow" },
      { domain: "x.com", action: "maybe" },
      { domain: "x.com", action: "allow", include: "defaults" },
      { include: "everything" },
      {}
    ]) {
      assert.isTrue(decode({ rules: [bad] })._tag === "Left", JSON.stringify(bad))
    }
  })
})

describe("AddressCheck.refusal", () => {
  it("refuses loopback, private, link-local, metadata and mapped forms; passes public addresses", () => {
    for (const address of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1", "224.0.0.1"]) {
      assert.isDefined(AddressCheck.refusal(address), address)
    }
    for (const address of ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"]) {
      assert.isUndefined(AddressCheck.refusal(address), address)
    }
  })
})

describe("Resolver", () => {
  it.effect("the test map is the whole resolver: mapped names are exempt, others fail", () =>
    Effect.promise(async () => {
      const resolve = Resolver.fromMap({ "allowed.test": "127.0.0.1" })
      assert.deepStrictEqual(await resolve("Allowed.test"), { address: "127.0.0.1", exempt: true })
      const failed = await resolve("example.com").then(() => "resolved", (e: Error) => e.message)
      assert.include(failed, "not found (test hosts map)")
    }))

  it("parses name=ip lists and refuses anything else", () => {
    assert.deepStrictEqual(Resolver.parseHosts("a.test=127.0.0.1, b.test=::1"), { "a.test": "127.0.0.1", "b.test": "::1" })
    assert.isString(Resolver.parseHosts("a.test=localhost"))
    assert.isString(Resolver.parseHosts("a.test"))
  })
})
