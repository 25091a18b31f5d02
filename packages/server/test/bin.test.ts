import { describe, expect, it } from "vitest"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), "../src/bin.ts")

/** heyod's answer to `args`: it must refuse before it binds anything. */
const heyod = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const result = spawnSync(process.execPath, ["--import", "tsx", bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, HEYO_API_KEY: "", ...env },
    timeout: 30_000
  })
  return { code: result.status, stderr: result.stderr }
}

describe("heyod's command line", () => {
  it("refuses bad P2P options with exit 2, naming the flag", () => {
    const refusals: Array<[ReadonlyArray<string>, string]> = [
      [["--p2p", "sideways"], `--p2p: "sideways" is not loopback, production or off`],
      [["--iroh-relay-url", "https://relay.example"], "--iroh-relay-url needs --p2p production, not loopback"],
      [["--p2p", "off", "--iroh-relay-url", "https://relay.example"], "--iroh-relay-url needs --p2p production, not off"],
      [["--p2p", "production", "--api-key", "k", "--iroh-relay-url", "not a url"], `--iroh-relay-url: "not a url" is not a URL`],
      [["--p2p", "production"], "--p2p production needs an API key (--api-key or HEYO_API_KEY)"],
      [["--exec-linger", "soon"], `--exec-linger: "soon" is not a duration`]
    ]
    for (const [args, message] of refusals) {
      const { code, stderr } = heyod(args)
      expect(code, args.join(" ")).toBe(2)
      expect(stderr).toContain(`heyod: ${message}`)
    }
    // in production mode the Heyo SDKs' variable is the relay's default, checked like the flag
    const fromEnv = heyod(["--p2p", "production", "--api-key", "k", "--port", "0"], { HEYO_IROH_RELAY_URL: "not a url" })
    expect(fromEnv.code).toBe(2)
    expect(fromEnv.stderr).toContain(`--iroh-relay-url: "not a url" is not a URL`)
  }, 60_000)
})
