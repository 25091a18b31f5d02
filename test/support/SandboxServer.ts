/**
 * Starts a Python server inside a sandbox for network tests: writes `script` to /tmp/<name>.py,
 * runs it in the background, and waits (up to 10 s) until something accepts on `port`.
 */

/** Runs a shell command in the sandbox; resolves with its exit code. */
export type RunInSandbox = (command: string) => Promise<{ readonly exitCode: number }>

export const startPythonServer = async (run: RunInSandbox, name: string, script: string, port: number) => {
  await run(`cat > /tmp/${name}.py <<'EOF'\n${script}\nEOF\nnohup python3 /tmp/${name}.py >/tmp/${name}.log 2>&1 &`)
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const probe = await run(`python3 -c "import socket; socket.create_connection(('127.0.0.1', ${port})).close()"`)
    if (probe.exitCode === 0) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`nothing accepts on port ${port} in the sandbox 10 s after starting /tmp/${name}.py`)
}
