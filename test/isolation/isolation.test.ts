/**
 * Sandbox isolation, checked from the outside through the Heyo dialect's raw wire (exec,
 * read-file, write-file on real sandboxes): files, processes, host sysctls, network, memory and
 * pids limits, and the file APIs' confinement to the sandbox root (no `..` or symlink escape).
 * The host side of each check is read directly from this machine.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  b64,
  Client,
  exec,
  expectError,
  expectJson,
  expectStatus,
  randomSuffix,
  Sandboxes,
  show,
  stopAndCheck,
  unb64
} from "../conformance/Wire.js"
import * as Heyod from "../support/Heyod.js"

const run = randomSuffix()
const hostBody = (label: string, size_class = "small") => ({
  name: `iso-${label}-${run}`,
  image: "host",
  size_class
})

const hostProcessCount = () => fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).length

/**
 * The instance id of the heyod under test: its sandboxes' processes sit in `heyo-<instance>`
 * cgroups, which keeps these checks blind to other heyods (a developer's, a parallel run).
 */
let instance = ""

/**
 * Host processes of this heyod's sandboxes whose command line contains `needle` (NUL-separated
 * arguments joined by spaces).
 */
const hostProcesses = (needle: string): Array<string> => {
  const found: Array<string> = []
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim()
      if (!cmdline.includes(needle)) continue
      if (!fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(`/heyo-${instance}/`)) continue
      found.push(`${pid}: ${cmdline}`)
    } catch {
      // exited while we looked
    }
  }
  return found
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Host files a broken file API could clobber: content and mtime, to compare afterwards. */
const snapshot = (file: string) => {
  const stat = fs.statSync(file)
  return { content: fs.readFileSync(file, "utf8"), mtimeMs: stat.mtimeMs, size: stat.size }
}

describe("sandbox isolation", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let sandboxes: Sandboxes
  let a = ""
  let b = ""
  /** Host paths an escape would create; removed in afterAll should a test have created them. */
  const escapePaths: Array<string> = []

  beforeAll(async () => {
    heyod = await Heyod.start()
    instance = fs.readFileSync(`${heyod.dataDir}/instance-id`, "utf8").trim()
    client = new Client(heyod.url)
    sandboxes = new Sandboxes(client)
    a = await sandboxes.running(hostBody("a"))
    b = await sandboxes.running(hostBody("b"))
  })

  afterAll(async () => {
    for (const p of escapePaths) fs.rmSync(p, { force: true, recursive: true })
    if (heyod === undefined) return
    const problems = await sandboxes.killEverything()
    // Killing the sandboxes must also have killed what they left running (e.g. `sleep 1234`).
    await stopAndCheck(heyod)
    expect(problems).toEqual([])
    expect(hostProcesses("sleep 1234"), "background processes of deleted sandboxes").toEqual([])
  })

  describe("filesystem", () => {
    it("a file written in A is not visible from B (by path or by find)", async () => {
      const marker = `heyo-marker-${run}`
      expectStatus(
        await client.post(`/sandbox/${a}/write-file`, { file_path: `${marker}.txt`, content: b64("from A") }),
        201
      )
      const written = await exec(
        client,
        a,
        `echo from-A > /tmp/${marker}-tmp && echo from-A > /root/${marker}-root && echo from-A > /etc/${marker}-etc && ` +
          `cat /workspace/${marker}.txt /tmp/${marker}-tmp /root/${marker}-root /etc/${marker}-etc`
      )
      expect(written, "positive control: A sees its own files").toMatchObject({
        exit_code: 0,
        stdout: "from Afrom-A\nfrom-A\nfrom-A\n"
      })

      for (const file of [`/workspace/${marker}.txt`, `/tmp/${marker}-tmp`, `/root/${marker}-root`, `/etc/${marker}-etc`]) {
        const look = await exec(client, b, `cat ${file}`)
        expect(look.exit_code, `B can read A's ${file}: ${JSON.stringify(look)}`).not.toBe(0)
        expect(look.stdout).not.toContain("from")
        const read = await client.post(`/sandbox/${b}/read-file`, { file_path: file })
        expect(read.status, `read-file of A's ${file} through B: ${show(read)}`).toBe(404)
      }
      const found = await exec(
        client,
        b,
        `find / /workspace /tmp /root /etc /home /opt /var /srv /run /mnt -xdev -name '*${marker}*' 2>/dev/null; true`
      )
      expect(found.stdout, "find in B turns up A's marker").toBe("")
      const foundInA = await exec(client, a, `find / /workspace /tmp -xdev -name '*${marker}*' 2>/dev/null; true`)
      expect(foundInA.stdout, "positive control: find in A finds the marker").toContain(marker)

      // Nor did A's writes land on the host.
      for (const hostPath of [`/tmp/${marker}-tmp`, `/root/${marker}-root`, `/etc/${marker}-etc`, `/workspace/${marker}.txt`]) {
        expect(fs.existsSync(hostPath), `${hostPath} appeared on the host`).toBe(false)
      }
    })

    it("the host's own directories (heyod's data dir, the repository) are not visible inside", async () => {
      const paths = [heyod.dataDir, process.cwd(), `${process.cwd()}/packages/server`]
      const look = await exec(client, b, `for p in ${paths.join(" ")}; do test -e "$p" && echo "VISIBLE $p"; done; true`)
      expect(look.stdout, JSON.stringify(look)).toBe("")
    })
  })

  describe("processes", () => {
    it("a process started in A is not visible or killable from B", async () => {
      const started = await exec(client, a, "setsid sleep 1234 >/dev/null 2>&1 </dev/null & echo started")
      expect(started.stdout).toBe("started\n")
      await sleep(300)
      // `[s]leep` keeps the shell's own command line from matching.
      const inA = await exec(client, a, "ps -eo args | grep '[s]leep 1234'; true")
      expect(inA.stdout, "positive control: A sees its own sleep").toContain("sleep 1234")
      const onHost = hostProcesses("sleep 1234")
      expect(onHost.length, "the sleep runs as a host process").toBeGreaterThan(0)

      const inB = await exec(client, b, "ps -eo args | grep '[s]leep 1234'; pgrep -f '[s]leep 1234' && echo FOUND; true")
      expect(inB.stdout, JSON.stringify(inB)).toBe("")

      const hostPid = (onHost[0] ?? "").split(":")[0] ?? ""
      const kill = await exec(client, b, `kill -9 ${hostPid} 2>&1; echo rc=$?`)
      expect(kill.stdout, `B killed A's process by its host pid ${hostPid}: ${JSON.stringify(kill)}`).not.toContain(
        "rc=0"
      )
      const stillInA = await exec(client, a, "ps -eo args | grep '[s]leep 1234'; true")
      expect(stillInA.stdout, "A's sleep survived B's attempts").toContain("sleep 1234")
    })

    it("ps inside lists only the sandbox's own processes", async () => {
      const host = hostProcessCount()
      const inside = await exec(client, b, "ps -e --no-headers | wc -l; ps -eo pid,args")
      const count = Number(inside.stdout.split("\n")[0])
      expect(Number.isInteger(count), JSON.stringify(inside)).toBe(true)
      expect(count, `${count} processes inside vs ${host} on the host:\n${inside.stdout}`).toBeLessThan(20)
      expect(count).toBeLessThan(host / 2)
      for (const foreign of ["packages/server/src/bin.ts", heyod.dataDir, "vitest", "sleep 1234"]) {
        expect(inside.stdout, `host process "${foreign}" visible inside`).not.toContain(foreign)
      }
      const heyodPid = heyod.process.pid ?? 0
      if (heyodPid > 100) {
        const probe = await exec(client, b, `test -e /proc/${heyodPid} && echo VISIBLE; true`)
        expect(probe.stdout, `heyod's pid ${heyodPid} is visible inside`).toBe("")
      }
    })

    it("the hostname is the sandbox's own; changing it leaves the host's alone", async () => {
      const hostName = os.hostname()
      try {
        const inside = await exec(client, b, `hostname; hostname heyo-renamed-${run} 2>&1; hostname`)
        expect(inside.stdout.split("\n")[0], "the sandbox shows the host's hostname").not.toBe(hostName)
        expect(os.hostname(), "the host's hostname changed").toBe(hostName)
        expect(fs.readFileSync("/proc/sys/kernel/hostname", "utf8").trim()).toBe(hostName)
      } finally {
        // Should isolation be broken, give the host its name back.
        if (fs.readFileSync("/proc/sys/kernel/hostname", "utf8").trim() !== hostName) {
          fs.writeFileSync("/proc/sys/kernel/hostname", hostName)
        }
      }
    })
  })

  describe("privilege", () => {
    it("host sysctls cannot be written from inside, and the host values do not change", async () => {
      const sysctls = ["/proc/sys/vm/swappiness", "/proc/sys/vm/overcommit_ratio"]
      const before = sysctls.map((f) => fs.readFileSync(f, "utf8").trim())
      const newValues = before.map((v) => String(Number(v) === 1 ? 2 : 1))
      try {
        for (const [i, file] of sysctls.entries()) {
          const attempt = await exec(client, b, `echo ${newValues[i]} > ${file}`)
          expect(attempt.exit_code, `writing ${file} inside succeeded: ${JSON.stringify(attempt)}`).not.toBe(0)
        }
        const sysctlCmd = await exec(client, b, `sysctl -w vm.swappiness=${newValues[0]} 2>&1`)
        expect(sysctlCmd.exit_code, JSON.stringify(sysctlCmd)).not.toBe(0)
        const after = sysctls.map((f) => fs.readFileSync(f, "utf8").trim())
        expect(after, "host sysctl values after the attempts").toEqual(before)
      } finally {
        // Should isolation be broken, put the host back as it was.
        sysctls.forEach((file, i) => {
          if (fs.readFileSync(file, "utf8").trim() !== before[i]) fs.writeFileSync(file, `${before[i]}\n`)
        })
      }
    })

    it("the host's /usr, shared read-only by the host image, cannot be written from inside", async () => {
      const target = `/usr/bin/heyo-escape-usr-${randomSuffix()}`
      escapePaths.push(target)
      const touch = await exec(client, b, `touch ${target} 2>&1; echo rc=$?`)
      expect(touch.stdout, `creating ${target} inside: ${JSON.stringify(touch)}`).not.toContain("rc=0")
      const write = await client.post(`/sandbox/${b}/write-file`, { file_path: target, content: b64("x") })
      expect(write.status >= 400 && write.status < 600, `write-file into /usr: ${show(write)}`).toBe(true)
      expectError(write, write.status)
      expect(fs.existsSync(target), `${target} appeared on the host`).toBe(false)

      // Touching an existing binary (harmless if it went through: only the mtime would move).
      const env = fs.statSync("/usr/bin/env")
      const retouch = await exec(client, b, "touch -c /usr/bin/env 2>&1; echo rc=$?")
      expect(retouch.stdout, JSON.stringify(retouch)).not.toContain("rc=0")
      expect(fs.statSync("/usr/bin/env").mtimeMs, "host /usr/bin/env mtime").toBe(env.mtimeMs)
    })

    it("root inside is not host root: shifted uid map, no device nodes, no host block devices", async () => {
      const map = await exec(client, b, "cat /proc/self/uid_map")
      const first = map.stdout.trim().split(/\s+/)
      expect(first[0], JSON.stringify(map)).toBe("0")
      expect(first[1], `sandbox uid 0 is host uid ${first[1]}: ${JSON.stringify(map)}`).not.toBe("0")

      const mknod = await exec(client, b, "mknod /tmp/heyo-sda b 8 0 2>&1")
      expect(mknod.exit_code, `mknod of a block device succeeded: ${JSON.stringify(mknod)}`).not.toBe(0)

      const dev = await exec(client, b, "ls /dev")
      const blockDevices = dev.stdout.split(/\s+/).filter((d) => /^(vd[a-z]|sd[a-z]|nvme|xvd|loop\d|dm-|mapper)/.test(d))
      expect(blockDevices, "host block devices visible in /dev").toEqual([])
    })
  })

  describe("network", () => {
    it("there is no route out: no default route, only loopback", async () => {
      const routes = await exec(client, b, "cat /proc/net/route")
      const ipv4 = routes.stdout.trim().split("\n").slice(1).filter((l) => l.trim() !== "")
      expect(ipv4.filter((l) => !l.startsWith("lo")), `IPv4 routes besides lo:\n${routes.stdout}`).toEqual([])
      expect(ipv4.filter((l) => l.split(/\s+/)[1] === "00000000"), "an IPv4 default route").toEqual([])

      const routes6 = await exec(client, b, "cat /proc/net/ipv6_route 2>/dev/null; true")
      const ipv6 = routes6.stdout.trim().split("\n").filter((l) => l.trim() !== "")
      expect(ipv6.filter((l) => l.trim().split(/\s+/).at(-1) !== "lo"), `IPv6 routes besides lo:\n${routes6.stdout}`)
        .toEqual([])

      const ipRoute = await exec(client, b, "ip route show; ip -6 route show; true")
      const lines = ipRoute.stdout.split("\n").filter((l) => l.trim() !== "")
      expect(lines.filter((l) => /^default/.test(l) || !/dev lo/.test(l)), `ip route:\n${ipRoute.stdout}`).toEqual([])

      const links = await exec(client, b, "cat /proc/net/dev")
      const names = links.stdout.split("\n").slice(2).map((l) => l.split(":")[0]?.trim() ?? "").filter((n) => n !== "")
      expect(names, "network interfaces inside").toEqual(["lo"])
    })

    it("heyod's own port on 127.0.0.1 is not reachable from inside", async () => {
      const port = heyod.port
      const attempts: Array<[string, string]> = [
        ["curl (with the sandbox's proxy settings)", `curl -sS -m 3 http://127.0.0.1:${port}/health`],
        ["curl --noproxy", `curl -sS -m 3 --noproxy '*' http://127.0.0.1:${port}/health`],
        ["curl localhost", `curl -sS -m 3 --noproxy '*' http://localhost:${port}/health`],
        [
          "python3 socket",
          `python3 -c "import socket; s=socket.create_connection(('127.0.0.1', ${port}), 3); ` +
          `s.sendall(b'GET /health HTTP/1.0\\r\\n\\r\\n'); print('CONNECTED', s.recv(200))"`
        ],
        ["bash /dev/tcp", `timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && echo CONNECTED'`]
      ]
      for (const [label, command] of attempts) {
        const result = await exec(client, b, command)
        expect(result.stdout, `${label} reached heyod: ${JSON.stringify(result)}`).not.toContain("status")
        expect(result.stdout, `${label} connected: ${JSON.stringify(result)}`).not.toContain("CONNECTED")
        expect(result.exit_code, `${label} succeeded: ${JSON.stringify(result)}`).not.toBe(0)
      }
    })

    it("a server in A is not reachable from B", async () => {
      await exec(
        client,
        a,
        "setsid python3 -m http.server 18080 --bind 127.0.0.1 >/dev/null 2>&1 </dev/null & sleep 1; " +
          "curl -sS -m 3 --noproxy '*' -o /dev/null -w '%{http_code}' http://127.0.0.1:18080/"
      ).then((r) => expect(r.stdout, `positive control: A reaches its own server ${JSON.stringify(r)}`).toBe("200"))
      const fromB = await exec(client, b, "curl -sS -m 3 --noproxy '*' -o /dev/null -w '%{http_code}' http://127.0.0.1:18080/")
      expect(fromB.stdout, JSON.stringify(fromB)).not.toBe("200")
      expect(fromB.exit_code).not.toBe(0)
    })
  })

  describe("resource limits", () => {
    it("allocating 1 GB in a micro sandbox (0.5 GB) is OOM-killed; heyod and the sandbox carry on", async () => {
      const micro = await sandboxes.running(hostBody("oom", "micro"))
      const small = await exec(client, micro, "python3 -c \"b=b'x'*(100<<20); print('ok', len(b))\"")
      expect(small, "positive control: 100 MB fits").toMatchObject({ exit_code: 0, stdout: "ok 104857600\n" })

      const big = await exec(client, micro, "python3 -c \"b=b'x'*(1<<30); print('allocated', len(b))\"")
      expect(big.stdout, `1 GB was allocated in a 0.5 GB sandbox: ${JSON.stringify(big)}`).not.toContain("allocated")
      expect(big.exit_code, `OOM kill should surface as 137 (128+SIGKILL): ${JSON.stringify(big)}`).toBe(137)

      // `tail` keeps a whole newline-free "line" in memory: 1 GiB.
      const tail = await exec(client, micro, "head -c 1G /dev/zero | tail | wc -c")
      expect(tail.stdout.trim(), `tail buffered 1 GB: ${JSON.stringify(tail)}`).not.toBe(String(1 << 30))

      expect(heyod.process.exitCode, "heyod is still running").toBe(null)
      expect(expectJson(await client.get("/health"), 200)).toEqual({ status: "ok" })
      expect((await exec(client, micro, "echo alive")).stdout).toBe("alive\n")
      expect((await exec(client, a, "echo neighbour")).stdout).toBe("neighbour\n")
      expectStatus(await sandboxes.kill(micro), 204)
    }, 90_000)

    it("a fork bomb in a micro sandbox stops at the pids limit; heyod and other sandboxes stay healthy", async () => {
      const micro = await sandboxes.running(hostBody("bomb", "micro"))
      // A bounded, self-cleaning probe first: the bomb only runs if a pids limit exists.
      const probe = await exec(
        client,
        micro,
        `python3 - <<'EOF'
import os, signal
pids, err = [], None
try:
    for _ in range(1500):
        pid = os.fork()
        if pid == 0:
            signal.pause()
            os._exit(0)
        pids.append(pid)
except OSError as e:
    err = e.strerror
for p in pids:
    os.kill(p, signal.SIGKILL)
for p in pids:
    os.waitpid(p, 0)
print(len(pids), err)
EOF`
      )
      const forked = Number(probe.stdout.split(" ")[0])
      expect(forked, `no pids limit: the probe forked ${forked} processes: ${JSON.stringify(probe)}`).toBeLessThan(1500)
      expect(forked, JSON.stringify(probe)).toBeGreaterThan(10)

      const baseline = hostProcessCount()
      const bomb = client.post(
        `/sandbox/${micro}/exec`,
        // The classic bomb backgrounds itself and returns at once, leaving its processes to run until
        // the sandbox stops; this one stays in the foreground, so `timeout` can end it (its group).
        { command: "timeout -k 2 8 bash -c 'bomb(){ bomb | bomb; }; bomb' >/dev/null 2>&1; echo bomb-done" },
        { timeoutMs: 60_000 }
      )
      await sleep(3_000)
      const during = hostProcessCount()
      const health = await client.get("/health", { timeoutMs: 10_000 })
      expectStatus(health, 200)
      expect(health.millis, "/health during the bomb").toBeLessThan(3_000)
      const neighbour = await exec(client, a, "echo neighbour-ok", { timeoutMs: 15_000 })
      expect(neighbour.stdout).toBe("neighbour-ok\n")
      expect(during - baseline, `host processes grew by ${during - baseline} during the bomb`).toBeLessThan(1_000)

      const ended = await bomb
      expect(ended.status, show(ended)).toBe(200)
      expect(String((ended.json as Record<string, unknown>)["stdout"])).toContain("bomb-done")

      // `timeout` cannot catch every process of a bomb (children forked after its signal sweep
      // survive, and it only waits for its own child), and survivors may hold the pids limit:
      // a stop/start of the sandbox ends them all, and the sandbox is usable again.
      expectStatus(await client.post(`/sandbox/${micro}/stop`, {}), 200)
      expect(hostProcesses("bomb(){").length, "fork-bomb processes alive after the sandbox stopped").toBe(0)
      expectStatus(await client.post(`/sandbox/${micro}/start`, {}, { timeoutMs: 30_000 }), 200)
      const after = await exec(client, micro, "echo recovered")
      expect(after.stdout).toBe("recovered\n")
      expect(heyod.process.exitCode).toBe(null)
      expectStatus(await sandboxes.kill(micro), 204)
    }, 120_000)
  })

  describe("file APIs stay inside the sandbox", () => {
    let c = ""
    const secret = `heyo-host-secret-${run}`
    const secretPath = `/tmp/${secret}`
    let passwdBefore: ReturnType<typeof snapshot>

    beforeAll(async () => {
      c = await sandboxes.running(hostBody("files"))
      fs.writeFileSync(secretPath, `top secret ${run}\n`)
      escapePaths.push(secretPath)
      passwdBefore = snapshot("/etc/passwd")
    })

    afterAll(() => {
      const after = snapshot("/etc/passwd")
      expect(after, "host /etc/passwd (content, mtime, size) after the file API tests").toEqual(passwdBefore)
    })

    /** A write through the file API: refused, or created inside the sandbox at `insidePath`. */
    const writeEscape = async (
      body: Record<string, unknown>,
      insidePath: string,
      hostPaths: ReadonlyArray<string>,
      content: string
    ) => {
      for (const p of hostPaths) expect(fs.existsSync(p), `${p} exists on the host before the test`).toBe(false)
      escapePaths.push(...hostPaths)
      const reply = await client.post(`/sandbox/${c}/write-file`, { ...body, content: b64(content) })
      expect([201, 400, 403, 404], show(reply)).toContain(reply.status)
      for (const p of hostPaths) expect(fs.existsSync(p), `${show(reply)} created ${p} on the host`).toBe(false)
      if (reply.status === 201) {
        const inside = await exec(client, c, `cat '${insidePath}'`)
        expect(inside.stdout, `${show(reply)}: the sandbox should see its write at ${insidePath}`).toBe(content)
      }
      return reply
    }

    /** A read through the file API never returns the host's secret. */
    const readNoSecret = async (body: Record<string, unknown>) => {
      const reply = await client.post(`/sandbox/${c}/read-file`, body)
      expect([200, 400, 403, 404], show(reply)).toContain(reply.status)
      if (reply.status === 200) {
        expect(unb64((reply.json as Record<string, unknown>)["content"]).toString(), show(reply)).not.toContain(
          "top secret"
        )
      }
      return reply
    }

    it("../ paths resolve inside the sandbox (or are refused), never on the host", async () => {
      const n = randomSuffix()
      await writeEscape({ file_path: `../../etc/heyo-escape-dotdot-${n}` }, `/etc/heyo-escape-dotdot-${n}`, [
        `/etc/heyo-escape-dotdot-${n}`
      ], "dotdot")
      await writeEscape(
        { file_path: `../../../../../../../../../../tmp/heyo-escape-deep-${n}` },
        `/tmp/heyo-escape-deep-${n}`,
        [`/tmp/heyo-escape-deep-${n}`],
        "deep"
      )
      await writeEscape(
        { file_path: `heyo-escape-mount-${n}`, mount_path: "/../../../../tmp" },
        `/tmp/heyo-escape-mount-${n}`,
        [`/tmp/heyo-escape-mount-${n}`],
        "mount"
      )
      await writeEscape(
        { file_path: `heyo-escape-relmount-${n}`, mount_path: "../../../../tmp" },
        `/tmp/heyo-escape-relmount-${n}`,
        [`/tmp/heyo-escape-relmount-${n}`],
        "relmount"
      )
      await readNoSecret({ file_path: `../../tmp/${secret}` })
      await readNoSecret({ file_path: `../../../../../../../../..${secretPath}` })
      await readNoSecret({ file_path: secret, mount_path: "/../../../tmp" })
      await readNoSecret({ file_path: secretPath })
    })

    it("read-file and write-file of ../../etc/passwd and /etc/passwd touch only the sandbox's copy", async () => {
      const own = await client.post(`/sandbox/${c}/read-file`, { file_path: "/etc/passwd" })
      const ownPasswd = unb64(expectJson(own, 200)["content"]).toString()
      const viaDots = await client.post(`/sandbox/${c}/read-file`, { file_path: "../../etc/passwd" })
      expect([200, 400, 403, 404], show(viaDots)).toContain(viaDots.status)
      if (viaDots.status === 200) expect(unb64((viaDots.json as Record<string, unknown>)["content"]).toString()).toBe(ownPasswd)

      const withDots = `${ownPasswd}heyo-escape-dots:x:4242:4242::/nonexistent:/usr/sbin/nologin\n`
      const dots = await writeEscape({ file_path: "../../etc/passwd" }, "/etc/passwd", [], withDots)
      const base = dots.status === 201 ? withDots : ownPasswd
      const withAbs = `${base}heyo-escape-abs:x:4243:4243::/nonexistent:/usr/sbin/nologin\n`
      await writeEscape({ file_path: "/etc/passwd" }, "/etc/passwd", [], withAbs)
      expect(snapshot("/etc/passwd"), "host /etc/passwd").toEqual(passwdBefore)
      expect(fs.readFileSync("/etc/passwd", "utf8")).not.toContain("heyo-escape")
    })

    it("a symlink to /etc made inside the sandbox leads to the sandbox's /etc, not the host's", async () => {
      const n = randomSuffix()
      const link = await exec(client, c, "ln -s /etc /workspace/hostetc && ls -ld /workspace/hostetc")
      expect(link.exit_code, JSON.stringify(link)).toBe(0)
      await writeEscape(
        { file_path: `hostetc/heyo-escape-test-${n}` },
        `/etc/heyo-escape-test-${n}`,
        [`/etc/heyo-escape-test-${n}`],
        "via symlink"
      )
      await writeEscape(
        { file_path: `/workspace/hostetc/heyo-escape-abs-${n}` },
        `/etc/heyo-escape-abs-${n}`,
        [`/etc/heyo-escape-abs-${n}`],
        "via absolute symlink path"
      )
    })

    it("relative and /proc/self/root symlinks cannot climb out of the sandbox root", async () => {
      const n = randomSuffix()
      const links = await exec(
        client,
        c,
        "ln -s ../../../../../../../../.. /workspace/up && " +
          `ln -s ${secretPath} /workspace/secret-link && ` +
          `ln -s /proc/self/root${secretPath} /workspace/procroot-link && ` +
          "ln -s /proc/1/root /workspace/init-root && " +
          "ln -s /etc/passwd /workspace/passwd-link"
      )
      expect(links.exit_code, JSON.stringify(links)).toBe(0)
      await writeEscape({ file_path: `up/tmp/heyo-escape-rel-${n}` }, `/tmp/heyo-escape-rel-${n}`, [
        `/tmp/heyo-escape-rel-${n}`
      ], "relative climb")
      await writeEscape(
        { file_path: `/proc/self/root/tmp/heyo-escape-proc-${n}` },
        `/tmp/heyo-escape-proc-${n}`,
        [`/tmp/heyo-escape-proc-${n}`],
        "proc root"
      )
      await writeEscape(
        { file_path: `init-root/tmp/heyo-escape-init-${n}` },
        `/tmp/heyo-escape-init-${n}`,
        [`/tmp/heyo-escape-init-${n}`],
        "init root"
      )
      await readNoSecret({ file_path: "secret-link" })
      await readNoSecret({ file_path: "procroot-link" })
      await readNoSecret({ file_path: `up${secretPath}` })
      await readNoSecret({ file_path: `init-root${secretPath}` })
      await readNoSecret({ file_path: `/proc/self/root${secretPath}` })

      // Writing through a symlink to a file changes the sandbox's file, never the host's.
      const own = unb64(expectJson(await client.post(`/sandbox/${c}/read-file`, { file_path: "/etc/passwd" }), 200)[
        "content"
      ]).toString()
      await writeEscape({ file_path: "passwd-link" }, "/etc/passwd", [], `${own}heyo-escape-link:x:4244:4244::/:/bin/false\n`)
      expect(snapshot("/etc/passwd"), "host /etc/passwd").toEqual(passwdBefore)
    })

    it("the secret planted on the host is not visible to commands inside either", async () => {
      const look = await exec(client, c, `cat ${secretPath} 2>&1; grep -rs 'top secret ${run}' /tmp /workspace; true`)
      expect(look.stdout, JSON.stringify(look)).not.toContain("top secret")
    })
  })
})
