export { configSchema, DEFAULT_DIRECT_PORT, DEFAULT_HOST, type ConfigInput, type ParsedConfig } from './schema.js';
export { CONFIG_FILE, parseConfig, loadConfig, type Config } from './load.js';
export { writeSecretFile, readSecretFile, readClusterSecret } from './secret-files.js';
