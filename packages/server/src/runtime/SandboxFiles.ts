/**
 * File reads and writes done by a process inside the sandbox (joined like any command), never
 * by heyod on the host: the kernel resolves the path in the sandbox's mount namespace and root,
 * so `..`, absolute paths and symlinks pointing "outside" all land inside the sandbox.
 * The tools' error messages (C locale) become SandboxFileError reasons.
 */
import * as path from "node:path"
import { SandboxFileError } from "./Runtime.js"

/** Largest file readFile returns: the whole content is held in heyod's memory. */
export const maxReadBytes = 256 * 1024 * 1024

/** The environment tools run with: messages stay in English whatever the sandbox's locale files. */
export const env: Readonly<Record<string, string>> = { LC_ALL: "C" }

export const readArgv = (file: string): ReadonlyArray<string> => ["cat", "--", file]

/**
 * Creates the parent directories (a builtin test first: mkdir is one more exec, rarely needed),
 * then streams stdin into the file (truncating it, keeping its mode and owner when it exists).
 */
export const writeArgv = (file: string): ReadonlyArray<string> => [
  "/bin/sh",
  "-c",
  "[ -d \"$1\" ] || mkdir -p -- \"$1\" || exit; exec cat > \"$2\"",
  "heyo-write",
  path.posix.dirname(file),
  file
]

const reasons: ReadonlyArray<readonly [RegExp, SandboxFileError["reason"], string]> = [
  [/No such file or directory/, "NotFound", "no such file or directory"],
  [/Is a directory/, "IsDirectory", "is a directory"],
  [/Not a directory|File exists/, "NotDirectory", "a path component is not a directory"],
  [/Read-only file system/, "ReadOnly", "read-only file system"],
  [/Permission denied|Operation not permitted/, "PermissionDenied", "permission denied"]
]

export const errorFrom = (file: string, stderr: Uint8Array, exitCode: number) => {
  const text = Buffer.from(stderr).toString("utf8").trim()
  for (const [pattern, reason, message] of reasons) {
    if (pattern.test(text)) return new SandboxFileError({ reason, path: file, message: `${file}: ${message}` })
  }
  return new SandboxFileError({
    reason: "Other",
    path: file,
    message: `${file}: ${text === "" ? `failed with exit code ${exitCode}` : text}`
  })
}

/** Paths the kernel could never open: refused before anything runs. */
export const invalidPath = (file: string) =>
  file === "" || file.includes("\0")
    ? new SandboxFileError({ reason: "Other", path: file, message: `${JSON.stringify(file)} is not a valid path` })
    : undefined
