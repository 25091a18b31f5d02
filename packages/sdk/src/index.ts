/**
 * The Effect SDK for Heyo sandboxes: the Heyo cloud or a local heyod.
 *
 * @since 0.1.0
 */
export * as Commands from "./Commands.js"
export * as ExecEvent from "./ExecEvent.js"
export * as Files from "./Files.js"
export * as HeyoClient from "./HeyoClient.js"
export * as HeyoError from "./HeyoError.js"
export * as Sandbox from "./Sandbox.js"
export * as SandboxHandle from "./SandboxHandle.js"
export * as Testing from "./Testing.js"
