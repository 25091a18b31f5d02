/**
 * The Effect SDK for Heyo sandboxes: the Heyo cloud or a local heyod.
 *
 * @since 0.1.0
 */
export * as Archive from "./Archive.js"
export * as Checkpoint from "./Checkpoint.js"
export * as Commands from "./Commands.js"
export * as Daemons from "./Daemons.js"
export * as Database from "./Database.js"
export * as ExecEvent from "./ExecEvent.js"
export * as ExecSession from "./ExecSession.js"
export * as FileInfo from "./FileInfo.js"
export * as Files from "./Files.js"
export * as FsEvent from "./FsEvent.js"
export * as HeyoClient from "./HeyoClient.js"
export * as HeyoError from "./HeyoError.js"
export * as Network from "./Network.js"
export * as NetworkRegistry from "./NetworkRegistry.js"
export * as Process from "./Process.js"
export * as Sandbox from "./Sandbox.js"
export * as SandboxHandle from "./SandboxHandle.js"
export * as Shell from "./Shell.js"
export * as Testing from "./Testing.js"
export * as Tunnel from "./Tunnel.js"
