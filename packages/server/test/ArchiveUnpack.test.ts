import { assert, describe, it } from "@effect/vitest"
import { commonPrefix, destination, stripFor } from "../src/engine/ArchiveUnpack.js"

describe("archive placement", () => {
  it("the common prefix counts directories only, and nothing that climbs", () => {
    assert.strictEqual(commonPrefix("workspace/\nworkspace/a.txt\nworkspace/src/\nworkspace/src/b.ts\n"), "workspace")
    assert.strictEqual(commonPrefix("./home/u/app/\n./home/u/app/x\n"), "home/u/app")
    assert.strictEqual(commonPrefix("workspace/a.txt\n"), "workspace")
    assert.strictEqual(commonPrefix("a.txt\nb.txt\n"), "")
    assert.strictEqual(commonPrefix("workspace/a\nother/b\n"), "")
    assert.strictEqual(commonPrefix("workspace/../etc/passwd\n"), "")
    assert.strictEqual(commonPrefix(""), "")
  })

  it("strips the prefix only when it names the destination (or lies under it)", () => {
    assert.strictEqual(stripFor("workspace", "/workspace"), 1)
    assert.strictEqual(stripFor("srv/app/src", "/srv/app"), 2)
    assert.strictEqual(stripFor("workspace", "/srv/app"), 0)
    assert.strictEqual(stripFor("workspacex", "/workspace"), 0)
    assert.strictEqual(stripFor("", "/workspace"), 0)
  })

  it("destinations are absolute, normalized, and never a system path", () => {
    assert.deepStrictEqual(destination("/workspace/"), { path: "/workspace" })
    assert.deepStrictEqual(destination("/srv/./app/../app"), { path: "/srv/app" })
    for (const bad of ["relative", "/", "/usr", "/etc/", "/workspace/../etc", "/a\0b"]) {
      assert.isTrue("error" in destination(bad), bad)
    }
  })
})
