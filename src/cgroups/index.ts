// The cgroups library's public surface: discovery, base preparation, limits, per-container control and stats.
export * from './discover';
export * from './prepare';
export * from './limits';
export * from './containerCgroup';
export * from './stats';
export { detectUserSystemd, moveSelfToDelegatedScope, lodgerScopeUnit, isLodgerScope } from './systemd';
export type { UserSystemd, ScopeResult } from './systemd';
export { parseMountinfo, parseProcCgroup } from './parse';
export type { MountInfoEntry, ProcCgroup } from './parse';
