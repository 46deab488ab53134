// kiln's registry client: pull, push, login, and the pieces they are made of.
export { pullImage, pullInto, type PullOptions, type PullResult } from './pull.js';
export { pushImage, pushFrom, type PushOptions, type PushResult, type ManifestFormat } from './push.js';
export { login, logout, verifyLogin, loginServer } from './login.js';
export { RegistryClient, type ClientOptions } from './client.js';
export { lookupCredential, storeCredential, removeCredential, authFilePath, type Credential } from './credentials.js';
export { loadRegistriesConfig, registriesConfigPath, type RegistriesConfig, type RegistrySettings } from './config.js';
export { fetchManifest, headManifest, putManifest, parseManifest, MANIFEST_ACCEPT, type ParsedManifest } from './manifests.js';
export { parsePlatform, formatPlatform, defaultPlatform, selectManifest } from './platform.js';
export { toSink, progressFor, PlainProgress, TtyProgress, type Progress, type ProgressEvent, type ProgressSink } from './progress.js';
export * from './errors.js';
