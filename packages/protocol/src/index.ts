/**
 * Wire schemas of the dialects heyo-effect speaks. No I/O.
 *
 * @since 0.1.0
 */
export * as HeyoArchive from "./heyo/Archive.js"
export * as HeyoDatabase from "./heyo/Database.js"
export * as HeyoEnums from "./heyo/Enums.js"
export * as HeyoError from "./heyo/Error.js"
export * as HeyoExec from "./heyo/Exec.js"
export * as HeyoFiles from "./heyo/Files.js"
export * as HeyoNetworkEndpoint from "./heyo/NetworkEndpoint.js"
export * as HeyoSandbox from "./heyo/Sandbox.js"
export * as HeyoServer from "./heyo/Server.js"
export * as HeyoShell from "./heyo/Shell.js"
export * as HeyoTunnel from "./heyo/Tunnel.js"
export * as HeyoNetwork from "./heyo/Network.js"
export * as SqlJson from "./heyo/SqlValue.js"
export * as SpritesCheckpoint from "./sprites/Checkpoint.js"
export * as SpritesError from "./sprites/Error.js"
export * as SpritesExecFrame from "./sprites/ExecFrame.js"
export * as SpritesExecMessage from "./sprites/ExecMessage.js"
export * as SpritesExecQuery from "./sprites/ExecQuery.js"
export * as SpritesFs from "./sprites/Fs.js"
export * as SpritesNetworkPorts from "./sprites/NetworkPorts.js"
export * as SpritesNetworkPolicy from "./sprites/NetworkPolicy.js"
export * as SpritesSession from "./sprites/Session.js"
export * as SpritesSprite from "./sprites/Sprite.js"
export * as SpritesTunnelProxy from "./sprites/TunnelProxy.js"
