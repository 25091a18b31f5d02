/**
 * Archives end to end: Sandbox.archiveDir of a project folder -> presigned upload to heyod ->
 * finalize -> a new sandbox seeded from it (`archive_id`) and `replaceMount` on a running one;
 * the presigned URL's own credential; and hostile tar files (`../`, absolute names, a symlink then
 * a write through it, hard links) that must never touch a host file.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Archive, Commands, Sandbox } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { afterAll, beforeAll } from "vitest"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

const KEY = "archive-key"

const run = (id: string, command: string) => Commands.runOrFail(id, command).pipe(Effect.map((r) => r.stdout))

const sha = (data: Uint8Array | string) => crypto.createHash("sha256").update(data).digest("hex")

/** A project folder: sources, a long name, an executable, and what the default excludes drop. */
const makeProject = (root: string) => {
  const write = (rel: string, content: string, mode = 0o644) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true })
    fs.writeFileSync(path.join(root, rel), content, { mode })
  }
  const longName = `src/${"very-long-directory-name/".repeat(5)}${"f".repeat(120)}.txt`
  write("README.md", "# project\n")
  write("src/main.ts", "console.log('hi')\n")
  write("src/nested/deep/data.bin", crypto.randomBytes(200_000).toString("base64"))
  write(longName, "long\n")
  write("run.sh", "#!/bin/sh\necho ran\n", 0o755)
  write("node_modules/dep/index.js", "module.exports = 1\n")
  write("src/node_modules/inner.js", "nested excluded\n")
  write(".git/HEAD", "ref: refs/heads/main\n")
  write("dist/out.js", "built\n")
  write("secret.env", "TOKEN=1\n")
  fs.symlinkSync("/etc/passwd", path.join(root, "link-to-passwd"))
  return { longName }
}

/** One ustar header block (POSIX.1-1988), written by hand: no tool would make these entries. */
const header = (name: string, type: "0" | "1" | "2", size: number, linkname = "") => {
  const block = Buffer.alloc(512)
  const field = (offset: number, length: number, value: string) => block.write(value, offset, length, "utf8")
  const octal = (offset: number, length: number, value: number) => field(offset, length, value.toString(8).padStart(length - 1, "0"))
  field(0, 100, name)
  octal(100, 8, 0o644)
  octal(108, 8, 0)
  octal(116, 8, 0)
  octal(124, 12, size)
  octal(136, 12, 0)
  field(148, 8, "        ")
  field(156, 1, type)
  field(157, 100, linkname)
  field(257, 6, "ustar\0")
  field(263, 2, "00")
  let sum = 0
  for (const byte of block) sum += byte
  field(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `)
  return block
}

/**
 * A tar.gz with every trick: a `../` climb, an absolute name, a symlink to a host directory then
 * a file written through it (absolute and relative), hard links to a host file, then a write to
 * the hard link's name.
 */
const hostileTar = (file: string, marker: string) => {
  const blocks: Array<Buffer> = []
  const add = (name: string, type: "0" | "1" | "2", linkname = "", data = "pwned\n") => {
    const body = type === "0" ? Buffer.from(data) : Buffer.alloc(0)
    blocks.push(header(name, type, body.length, linkname), body, Buffer.alloc((512 - (body.length % 512)) % 512))
  }
  add("ok.txt", "0", "", "fine\n")
  add(`../../../../../../tmp/${marker}-climb`, "0")
  add(`/tmp/${marker}-absolute`, "0")
  add("escape", "2", "/tmp")
  add(`escape/${marker}-through`, "0")
  add("rel-escape", "2", "../../../../../../tmp")
  add(`rel-escape/${marker}-through-rel`, "0")
  add("hard", "1", "/etc/passwd")
  add("hard2", "1", "../../../../../etc/passwd")
  add("hard", "0", "", "overwritten through a hard link\n")
  blocks.push(Buffer.alloc(1024))
  fs.writeFileSync(file, zlib.gzipSync(Buffer.concat(blocks)))
}

describe("archives against heyod", () => {
  let heyod: Heyod.Heyod
  let work: string
  const layer = () =>
    Archive.layer.pipe(Layer.provideMerge(SdkClient.layer(heyod)), Layer.provide(NodeHttpClient.layerUndici))
  const provide = <A, E>(effect: Effect.Effect<A, E, Archive.Archive | Sandbox.Sandbox | Commands.Commands>) =>
    Effect.provide(effect, layer())

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    work = Heyod.makeTempDir("heyo-archive-test-")
  })
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
    if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
  })

  it.live("archiveDir of a project seeds a new sandbox's /workspace, without the excluded folders", () =>
    provide(Effect.gen(function*() {
      const project = path.join(work, "my-project")
      const { longName } = makeProject(project)
      const archive = yield* Sandbox.archiveDir(project, { name: "proj", extraExcludes: ["secret.env"] })
      assert.match(archive.id, /^ar-/)
      assert.isTrue(archive.sizeBytes > 0)
      const listed = yield* Archive.list()
      const entry = listed.find((a) => a.id === archive.id)
      assert.strictEqual(entry?.name, "proj")
      assert.strictEqual(entry?.sandboxId, "my-project")

      const sandbox = yield* Sandbox.create({ name: "seeded", archiveId: archive.id })
      const files = (yield* run(sandbox.id, "cd /workspace && find . -mindepth 1 | sort")).trim().split("\n")
      for (const wanted of ["./README.md", "./src/main.ts", "./src/nested/deep/data.bin", `./${longName}`, "./run.sh"]) {
        assert.include(files, wanted)
      }
      for (const dropped of ["node_modules", ".git", "dist", "secret.env", "link-to-passwd"]) {
        assert.isFalse(files.some((f) => f.split("/").includes(dropped)), `${dropped} was excluded`)
      }
      assert.strictEqual(
        (yield* run(sandbox.id, "sha256sum < /workspace/src/nested/deep/data.bin")).split(" ")[0],
        sha(fs.readFileSync(path.join(project, "src/nested/deep/data.bin")))
      )
      assert.strictEqual((yield* run(sandbox.id, "/workspace/run.sh")).trim(), "ran", "the executable bit survived")
      assert.strictEqual((yield* run(sandbox.id, "stat -c %u /workspace/src/main.ts")).trim(), "0", "owned by the sandbox's user")
    })), 120_000)

  it.live("replaceMount empties the path and unpacks there; a stopped sandbox or unknown archive is refused", () =>
    provide(Effect.gen(function*() {
      const project = path.join(work, "second")
      fs.mkdirSync(path.join(project, "lib"), { recursive: true })
      fs.writeFileSync(path.join(project, "lib", "new.txt"), "new\n")
      const archive = yield* Sandbox.archiveDir(project, { mountPath: "/srv/app" })
      const sandbox = yield* Sandbox.create({ name: "replaced" })
      yield* run(sandbox.id, "mkdir -p /srv/app && echo stale > /srv/app/stale.txt")
      yield* Sandbox.replaceMount(sandbox.id, archive.id, "/srv/app")
      assert.strictEqual((yield* run(sandbox.id, "cd /srv/app && find . -type f | sort")).trim(), "./lib/new.txt")

      const unknown = yield* Effect.either(Sandbox.replaceMount(sandbox.id, "ar-0000000000000000", "/srv/app"))
      assert.isTrue(Either.isLeft(unknown) && unknown.left._tag === "NotFound", String(unknown))
      const root = yield* Effect.either(Sandbox.replaceMount(sandbox.id, archive.id, "/"))
      assert.isTrue(Either.isLeft(root) && root.left._tag === "InvalidArgument", String(root))
      yield* Sandbox.stop(sandbox.id)
      const stopped = yield* Effect.either(Sandbox.replaceMount(sandbox.id, archive.id, "/srv/app"))
      assert.isTrue(Either.isLeft(stopped) && stopped.left._tag === "Api" && stopped.left.status === 409, String(stopped))
    })), 120_000)

  it.live("the upload URL is its own credential: no key needed, a tampered one refused; download and delete", () =>
    Effect.gen(function*() {
      const presign = yield* Effect.promise(() =>
        fetch(`${heyod.url}/sandbox-archives/presign`, { method: "POST", headers: { Authorization: `Bearer ${KEY}` } })
      )
      assert.strictEqual(presign.status, 200)
      const { archive_id, upload_url } = (yield* Effect.promise(() => presign.json())) as { archive_id: string; upload_url: string }
      assert.isTrue(upload_url.startsWith(heyod.url), upload_url)
      const source = path.join(work, "plain")
      fs.mkdirSync(source, { recursive: true })
      fs.writeFileSync(path.join(source, "x.txt"), "x\n")
      const tarball = path.join(work, "plain.tar.gz")
      execFileSync("tar", ["-czf", tarball, "-C", source, "."])
      const bytes = fs.readFileSync(tarball)

      const tampered = new URL(upload_url)
      tampered.searchParams.set("expires", String(Number(tampered.searchParams.get("expires")) + 10_000))
      const refused = yield* Effect.promise(() => fetch(tampered, { method: "PUT", body: bytes }))
      assert.strictEqual(refused.status, 403)
      const bare = new URL(upload_url)
      bare.search = ""
      assert.strictEqual((yield* Effect.promise(() => fetch(bare, { method: "PUT", body: bytes }))).status, 403)

      const put = yield* Effect.promise(() =>
        fetch(upload_url, { method: "PUT", body: bytes, headers: { "Content-Type": "application/gzip" } })
      )
      assert.strictEqual(put.status, 200)
      // other archive routes still need the key
      const noKey = yield* Effect.promise(() => fetch(`${heyod.url}/sandbox-archives`))
      assert.strictEqual(noKey.status, 401)

      yield* provide(Effect.gen(function*() {
        const downloaded = yield* Archive.download(archive_id).pipe(
          Stream.runFold(Buffer.alloc(0), (all, chunk) => Buffer.concat([all, chunk]))
        ).pipe(Effect.either)
        assert.isTrue(Either.isLeft(downloaded), "not downloadable before finalize")
      }))
      const finalize = yield* Effect.promise(() =>
        fetch(`${heyod.url}/sandbox-archives/${archive_id}/finalize`, {
          method: "POST",
          headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
          body: JSON.stringify({ sandbox_id: "plain" })
        })
      )
      assert.strictEqual(finalize.status, 200)
      const final = (yield* Effect.promise(() => finalize.json())) as { id: string; size_bytes: number }
      assert.strictEqual(final.size_bytes, bytes.length)
      // a finalized archive takes no second upload
      assert.strictEqual((yield* Effect.promise(() => fetch(upload_url, { method: "PUT", body: bytes }))).status, 409)

      yield* provide(Effect.gen(function*() {
        const downloaded = yield* Archive.download(archive_id).pipe(
          Stream.runFold(Buffer.alloc(0), (all, chunk) => Buffer.concat([all, chunk]))
        )
        assert.strictEqual(sha(downloaded), sha(bytes))
        yield* Archive.remove(archive_id)
        assert.isFalse((yield* Archive.list()).some((a) => a.id === archive_id))
        yield* Archive.remove(archive_id)
        const gone = yield* Effect.either(Sandbox.create({ name: "from-deleted", archiveId: archive_id }))
        assert.isTrue(Either.isLeft(gone) && gone.left._tag === "InvalidArgument", String(gone))
      }))
    }), 60_000)

  it.live("a finalize with nothing uploaded, or not a tar.gz, is refused", () =>
    Effect.gen(function*() {
      const headers = { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" }
      const presign = async () =>
        (await (await fetch(`${heyod.url}/sandbox-archives/presign`, { method: "POST", headers })).json()) as {
          archive_id: string
          upload_url: string
        }
      const finalize = (id: string) =>
        fetch(`${heyod.url}/sandbox-archives/${id}/finalize`, { method: "POST", headers, body: JSON.stringify({ sandbox_id: "x" }) })
      const empty = yield* Effect.promise(presign)
      assert.strictEqual((yield* Effect.promise(() => finalize(empty.archive_id))).status, 409)
      const junk = yield* Effect.promise(presign)
      yield* Effect.promise(() => fetch(junk.upload_url, { method: "PUT", body: "not a tarball at all" }))
      const refused = yield* Effect.promise(() => finalize(junk.archive_id))
      assert.strictEqual(refused.status, 400)
    }))

  it.live("hostile tar files are refused or stay inside the sandbox: no host file is created or changed", () =>
    provide(Effect.gen(function*() {
      const marker = `heyo-hostile-${crypto.randomBytes(4).toString("hex")}`
      const file = path.join(work, "hostile.tar.gz")
      hostileTar(file, marker)
      const bytes = fs.readFileSync(file)
      const passwdBefore = sha(fs.readFileSync("/etc/passwd"))
      const archive = yield* Effect.flatMap(Archive.Archive, (a) =>
        a.upload(Stream.make(new Uint8Array(bytes)), { sizeBytes: bytes.length, label: "hostile" }))

      const sandbox = yield* Sandbox.create({ name: "hostile-target" })
      const replaced = yield* Effect.either(Sandbox.replaceMount(sandbox.id, archive.id, "/workspace/unpacked"))
      // GNU tar refuses the tricks it sees (exit 2): reported, not hidden
      if (Either.isLeft(replaced)) assert.strictEqual(replaced.left._tag, "InvalidArgument", String(replaced.left))
      // seeding a new sandbox with it: the sandbox fails or comes up; either way nothing leaks
      yield* Effect.either(Sandbox.create({ name: "hostile-seeded", archiveId: archive.id }))

      for (const suffix of ["climb", "absolute", "through", "through-rel"]) {
        assert.isFalse(fs.existsSync(`/tmp/${marker}-${suffix}`), `/tmp/${marker}-${suffix} must not exist on the host`)
      }
      assert.strictEqual(sha(fs.readFileSync("/etc/passwd")), passwdBefore, "the host's /etc/passwd is untouched")
      // what did land, landed inside the sandbox
      assert.strictEqual((yield* run(sandbox.id, "cat /workspace/unpacked/ok.txt")).trim(), "fine")
      // GNU tar's own checks held too: nothing landed outside the destination, even in the sandbox
      assert.strictEqual((yield* run(sandbox.id, `ls /tmp | grep -c ${marker} || true`)).trim(), "0")
      assert.notInclude(yield* run(sandbox.id, "cat /etc/passwd"), "pwned")
      if (Either.isLeft(replaced)) assert.match(replaced.left.message, /tar exited with 2/)
    })), 120_000)

  it.live("heyod stops leaving nothing behind", () =>
    Effect.gen(function*() {
      yield* Effect.promise(() => heyod.stop())
      assert.deepStrictEqual(Heyod.leftovers(heyod.dataDir), { mounts: [], netns: [], cgroups: [], processes: [], loops: [] })
    }))
})
