/**
 * Wire schemas of the dialects heyo-effect speaks. No I/O.
 *
 * @since 0.1.0
 */
export * as HeyoEnums from "./heyo/Enums.js"
export * as HeyoError from "./heyo/Error.js"
export * as HeyoExec from "./heyo/Exec.js"
export * as HeyoFiles from "./heyo/Files.js"
export * as HeyoSandbox from "./heyo/Sandbox.js"
export * as HeyoServer from "./heyo/Server.js"
