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
export * as SpritesError from "./sprites/Error.js"
export * as SpritesExecFrame from "./sprites/ExecFrame.js"
export * as SpritesExecMessage from "./sprites/ExecMessage.js"
export * as SpritesExecQuery from "./sprites/ExecQuery.js"
export * as SpritesSprite from "./sprites/Sprite.js"
