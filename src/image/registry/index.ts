// The registry library's public surface: what the store and the CLI import for pull, push, login and logout.
export { RegistryClient } from './client';
export type { RegistryClientOptions, ManifestResult, RawManifest, PushBlobOptions, PushBlobResult } from './client';
export type { BlobContent } from './upload';
export type { SessionOptions, SessionStats } from './session';
export { RegistryError } from './errors';
export { login, logout, loginRegistry } from './login';
export type { LoginOptions } from './login';
export { lookupCredentials, saveCredentials, removeCredentials, authFilesToRead, writableAuthFile } from './credentials';
export type { Credentials } from './auth';
export { isLoopbackHost, planTransport } from './tls';
export { destroyAgents } from './http';
