import { afterAll, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Images from "../../src/runtime/Images.js"

const temps: Array<string> = []
afterAll(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true })
})

const temp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heyo-image-"))
  temps.push(dir)
  return dir
}

const write = (file: string, content: string, mode = 0o644) => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, content)
  fs.chmodSync(file, mode)
}

/** A host /etc with the things that must and must not reach the image. */
const fakeHost = () => {
  const root = temp()
  const etc = path.join(root, "etc")
  const usr = path.join(root, "usr")
  for (const dir of ["bin", "sbin", "lib", "lib64"]) fs.mkdirSync(path.join(usr, dir), { recursive: true })
  write(path.join(usr, "bin/bash"), "")
  write(path.join(etc, "passwd"), "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n")
  write(path.join(etc, "shadow"), "root:$6$hostsecret$hash:19000:0:99999:7:::\n", 0o640)
  write(path.join(etc, "gshadow"), "root:*::\n", 0o640)
  write(path.join(etc, "hostname"), "the-host\n")
  write(path.join(etc, "profile"), "# profile\n")
  write(path.join(etc, "profile.d/ok.sh"), "export OK=1\n")
  write(path.join(etc, "profile.d/token.sh"), "export TOKEN=secret\n", 0o600)
  write(path.join(etc, "ssl/certs/ca.pem"), "CERT\n")
  write(path.join(etc, "ssl/openssl.cnf"), "[openssl]\n")
  write(path.join(etc, "ssl/private/host.key"), "KEY\n", 0o640)
  fs.chmodSync(path.join(etc, "ssl/private"), 0o710)
  write(path.join(etc, "ssh/ssh_host_ed25519_key"), "KEY\n", 0o600)
  write(path.join(etc, "gitconfig"), "[credential]\n\thelper = store\n")
  write(path.join(etc, "npmrc"), "//registry/:_authToken=secret\n")
  write(path.join(etc, "skel/.bashrc"), "# skel\n")
  // setgid directory owned by a system group: the mode must survive the ownership shift
  fs.chownSync(path.join(etc, "skel"), 0, 42)
  fs.chmodSync(path.join(etc, "skel"), 0o2755)
  write(path.join(etc, "python3.11/sitecustomize.py"), "# site\n")
  fs.symlinkSync("/usr/share/zoneinfo/Etc/UTC", path.join(etc, "localtime"))
  fs.mkdirSync(path.join(etc, "alternatives"))
  fs.symlinkSync("/usr/bin/vim.basic", path.join(etc, "alternatives/vi"))
  return { etc, usr }
}

describe("the host image skeleton", () => {
  it("copies the allowlist, never secrets, and generates the identity files", () => {
    const sources = fakeHost()
    const image = temp()
    Images.buildHostRoot(image, sources)
    const etc = path.join(image, "etc")
    // copied
    assert.strictEqual(fs.readFileSync(path.join(etc, "profile"), "utf8"), "# profile\n")
    assert.isTrue(fs.existsSync(path.join(etc, "profile.d/ok.sh")))
    assert.isTrue(fs.existsSync(path.join(etc, "ssl/certs/ca.pem")))
    assert.isTrue(fs.existsSync(path.join(etc, "ssl/openssl.cnf")))
    assert.isTrue(fs.existsSync(path.join(etc, "python3.11/sitecustomize.py")))
    assert.strictEqual(fs.readlinkSync(path.join(etc, "localtime")), "/usr/share/zoneinfo/Etc/UTC")
    assert.strictEqual(fs.readlinkSync(path.join(etc, "alternatives/vi")), "/usr/bin/vim.basic")
    // not copied: not allowlisted, or not world-readable
    for (const secret of ["ssl/private", "ssh", "gitconfig", "npmrc", "profile.d/token.sh"]) {
      assert.isFalse(fs.existsSync(path.join(etc, secret)), secret)
    }
    // generated, not the host's
    const shadow = fs.readFileSync(path.join(etc, "shadow"), "utf8")
    assert.notInclude(shadow, "hostsecret")
    assert.match(shadow, /^root:\*:/)
    const passwd = fs.readFileSync(path.join(etc, "passwd"), "utf8")
    assert.match(passwd, /^root:x:0:0:root:\/root:\/bin\/bash$/m)
    assert.match(passwd, /^nobody:x:65534:65534:/m)
    assert.notInclude(passwd, "alice")
    assert.match(fs.readFileSync(path.join(etc, "group"), "utf8"), /^shadow:x:42:$/m)
    assert.strictEqual(fs.readFileSync(path.join(etc, "hostname"), "utf8"), "sandbox\n")
    assert.match(fs.readFileSync(path.join(etc, "hosts"), "utf8"), /^127\.0\.0\.1\tlocalhost$/m)
  })

  it("is owned by the shifted root, with modes kept", () => {
    const sources = fakeHost()
    const image = temp()
    Images.buildHostRoot(image, sources)
    const stat = (rel: string) => fs.lstatSync(path.join(image, rel))
    for (const rel of ["", "etc", "root", "tmp", "workspace", "etc/profile", "bin"]) {
      assert.strictEqual(stat(rel).uid, 100000, rel)
      assert.strictEqual(stat(rel).gid, 100000, rel)
    }
    assert.strictEqual(stat("etc/shadow").gid, 100042)
    assert.strictEqual(stat("etc/shadow").mode & 0o7777, 0o640)
    assert.strictEqual(stat("etc/skel").gid, 100042)
    assert.strictEqual(stat("etc/skel").mode & 0o7777, 0o2755)
    assert.strictEqual(stat("tmp").mode & 0o7777, 0o1777)
    assert.strictEqual(stat("root").mode & 0o7777, 0o700)
    assert.strictEqual(stat("workspace").mode & 0o7777, 0o755)
    // /usr is an empty mount point; the usrmerge links point into it
    assert.deepStrictEqual(fs.readdirSync(path.join(image, "usr")), [])
    assert.strictEqual(fs.readlinkSync(path.join(image, "bin")), "usr/bin")
    assert.strictEqual(fs.readlinkSync(path.join(image, "lib64")), "usr/lib64")
    assert.isFalse(fs.existsSync(path.join(image, "lib32")))
  })

  it("has a fingerprint that changes with the copied host files", () => {
    const sources = fakeHost()
    const before = Images.hostFingerprint(sources)
    assert.strictEqual(Images.hostFingerprint(sources), before)
    // a file outside the allowlist does not matter
    write(path.join(sources.etc, "npmrc"), "changed\n")
    assert.strictEqual(Images.hostFingerprint(sources), before)
    write(path.join(sources.etc, "profile"), "# profile, longer now\n")
    assert.notStrictEqual(Images.hostFingerprint(sources), before)
  })

  it("resolves names and aliases", () => {
    assert.strictEqual(Images.resolve(Images.catalogue, "host"), "host")
    assert.strictEqual(Images.resolve(Images.catalogue, "ubuntu:24.04"), "host")
    assert.strictEqual(Images.resolve(Images.catalogue, "debian:bookworm"), "host")
    assert.isUndefined(Images.resolve(Images.catalogue, "alpine:3"))
  })
})
